"""Apprise channels: Slack, Microsoft Teams (Power Automate workflows), Telegram, Discord, ntfy,
Mattermost, JSON webhooks and the other services Apprise speaks, each named by one URL.

The URL holds the service's token, so it lives in an environment variable named by the channel
(``url_env``), never in the configuration file or the database. Apprise reports failure as a
false result without a reason that separates "later" from "never"; a refused URL (unknown scheme,
malformed) is a setting to fix, so it is permanent, while a failed send (429, 5xx, network) is
retried with the outbox's back-off until it goes through.
"""

from __future__ import annotations

import contextlib
import logging

from listener.alerts.settings import Channel
from listener.kernel.delivery import PermanentDeliveryError, TransientDeliveryError
from listener.kernel.errors import MissingCredential

from ..messages import Outgoing

log = logging.getLogger(__name__)
TYPE = "apprise"
LABEL = "Apprise (Slack, Teams, Telegram, ntfy, webhooks...)"


def make_sender(channel: Channel, mailer, sender: str) -> AppriseChannel:
    return AppriseChannel(channel)


class AppriseChannel:
    def __init__(self, channel: Channel):
        self.channel = channel

    @contextlib.contextmanager
    def session(self):
        import apprise

        notifier = apprise.Apprise()
        try:
            url = self.channel.url()
        except MissingCredential as exc:  # not set yet: the alerts wait for it
            raise TransientDeliveryError(str(exc)) from None
        if not notifier.add(url):
            raise PermanentDeliveryError(f"Apprise does not understand the URL in {self.channel.url_env} "
                                         f"(channel {self.channel.name!r}); see the README's channels section")
        yield lambda outgoing, target: self._send(notifier, outgoing)

    def _send(self, notifier, outgoing: Outgoing) -> None:
        import apprise

        problems = []

        def keep(entry, _plugin=None):  # what Apprise logged while sending: the reason of a failure
            problems.append(str(getattr(entry, "message", entry)))

        ok = notifier.notify(body=outgoing.text(), title=outgoing.subject, body_format=apprise.NotifyFormat.TEXT,
                             log_callback=keep, log_level=logging.WARNING)
        if not ok:
            reason = "; ".join(p for p in problems if p)[:300] or "the service did not accept the message"
            raise TransientDeliveryError(f"{self.channel.name}: {reason}")
