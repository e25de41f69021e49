"""Apprise channels: Discord, ntfy, Mattermost, Google Chat and the other services Apprise speaks, each
named by one URL in an environment variable (``url_env``; the URL holds the service's token, so it
never sits in the configuration file or the database).

A URL for Slack, Teams (Workflows), Telegram or a JSON webhook, in Apprise's notation or the
service's own, goes to Ascolto's native channel for it (``slack``, ``teams``, ``telegram``,
``webhook``): a native message with fields and buttons rather than text. A URL Apprise does not
understand is a configuration error naming the variable. Apprise reports a failure as a false result
with log lines; the HTTP status in them (``error=413``) says what the failure means.
"""

from __future__ import annotations

import contextlib
import logging
import re

from listener.alerts.settings import Channel
from listener.kernel.delivery import ChannelUnavailable, http_failure
from listener.kernel.errors import MissingCredential

from ..messages import Outgoing
from . import slack, teams, telegram, webhook
from .urls import BadChannelUrl, WaitingSender, plugin, slack_url, teams_url, telegram_target, url_of, webhook_target

log = logging.getLogger(__name__)
TYPE = "apprise"
LABEL = "Apprise (Discord, ntfy, Mattermost, Google Chat...)"
NATIVE = ((slack_url, slack), (teams_url, teams), (telegram_target, telegram), (webhook_target, webhook))
_STATUS = re.compile(r"error=(\d{3})")


def make_sender(channel: Channel, mailer, sender: str):
    """Ascolto's native channel for a URL it knows, else Apprise's; a channel whose URL is not set yet
    waits for it."""
    try:
        url = url_of(channel, lambda raw: raw if plugin(raw) is not None or raw.startswith("https://") else None)
    except MissingCredential as exc:
        return WaitingSender(exc)
    for parse, module in NATIVE:
        if parse(url) is not None:
            return module.make_sender(channel, mailer, sender)
    if plugin(url) is None:
        raise BadChannelUrl(channel, "a URL Apprise understands")
    return AppriseChannel(channel, url)


class AppriseChannel:
    def __init__(self, channel: Channel, url: str):
        self.channel, self.url = channel, url

    @contextlib.contextmanager
    def session(self):
        import apprise

        notifier = apprise.Apprise()
        notifier.add(self.url, tag=None)
        for service in notifier:
            service.socket_read_timeout = self.channel.timeout_seconds  # Apprise waits 4 s by default
        yield lambda outgoing, target: self._send(notifier, outgoing)

    def _send(self, notifier, outgoing: Outgoing) -> None:
        import apprise

        problems = []

        def keep(entry, _plugin=None):  # what Apprise logged while sending: the reason of a failure
            problems.append(str(getattr(entry, "message", entry)))

        ok = notifier.notify(body=outgoing.text(), title=outgoing.subject, body_format=apprise.NotifyFormat.TEXT,
                             log_callback=keep, log_level=logging.WARNING)
        if not ok:
            what = f"channel {self.channel.name!r}"
            status = next((int(m.group(1)) for p in problems if (m := _STATUS.search(p))), None)
            raise http_failure(status, what) if status else ChannelUnavailable(f"{what}: the service did not accept "
                                                                               "the message")
