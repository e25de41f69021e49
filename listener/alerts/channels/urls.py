"""A chat channel's URL, read from its environment variable and understood: the https webhook a
service gives, or the same in Apprise's notation (slack://, workflows://, tgram://, json://), which
Apprise's own parser reads. A URL that neither understands is a configuration error naming the
variable, never its value (the URL holds the channel's token)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import TypeVar

from listener.alerts.settings import Channel
from listener.kernel.delivery import TransientDeliveryError
from listener.kernel.errors import AscoltoError, MissingCredential

T = TypeVar("T")
# Apprise logs a URL it cannot parse, token included: its records stay with our own capture.
logging.getLogger("apprise").propagate = False


class BadChannelUrl(AscoltoError):
    def __init__(self, channel: Channel, expected: str):
        super().__init__(f"alert channel {channel.name!r}: environment variable {channel.url_env} does not hold "
                         f"{expected} (see the README, Alerts and channels)")


def plugin(url: str):
    """Apprise's reading of a URL (its plugin object), or None."""
    import apprise

    with contextlib.suppress(Exception):
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    return None


def slack_url(url: str) -> str | None:
    if url.startswith("https://hooks.slack.com/services/"):
        return url
    found = plugin(url)
    if type(found).__name__ == "NotifySlack" and getattr(found, "mode", "") == "hook":
        return f"https://hooks.slack.com/services/{found.token_a}/{found.token_b}/{found.token_c}"
    return None


def teams_url(url: str) -> str | None:
    found = plugin(url)
    if type(found).__name__ != "NotifyWorkflows":
        return None
    path = "/powerautomate/automations/direct" if found.power_automate else ""
    if path and getattr(found, "routing_id", None):
        path += f"/cu/{found.routing_id}"
    port = f":{found.port}" if found.port else ""
    return (f"https://{found.host}{port}{path}/workflows/{found.workflow}/triggers/manual/paths/invoke"
            f"?api-version={found.api_version}&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={found.signature}")


def telegram_target(url: str) -> tuple[str, list] | None:
    found = plugin(url)
    if type(found).__name__ != "NotifyTelegram" or not found.targets:
        return None
    return f"https://api.telegram.org/bot{found.bot_token}/sendMessage", [chat for chat, *_ in found.targets]


def webhook_target(url: str) -> tuple[str, dict, tuple | None] | None:
    if url.startswith(("https://", "http://")):
        return url, {}, None
    found = plugin(url)
    if type(found).__name__ != "NotifyJSON":
        return None
    port = f":{found.port}" if found.port else ""
    auth = (found.user, found.password or "") if found.user else None
    return f"{'https' if found.secure else 'http'}://{found.host}{port}{found.fullpath or '/'}", dict(found.headers), auth


EXPECTED = {slack_url: "a Slack incoming-webhook URL", teams_url: "a Teams Workflows webhook URL",
            telegram_target: "a Telegram URL (tgram://BOT_TOKEN/CHAT_ID)", webhook_target: "a webhook URL"}


def url_of(channel: Channel, parse: Callable[[str], T | None]) -> T:
    """The channel's URL as ``parse`` understands it; MissingCredential if its variable is not set,
    BadChannelUrl if it holds something else."""
    raw = os.environ.get(channel.url_env, "").strip()
    if not raw:
        raise MissingCredential(channel.url_env, f"the URL of alert channel {channel.name!r}")
    parsed = parse(raw)
    if parsed is None:
        raise BadChannelUrl(channel, EXPECTED.get(parse, "a URL Apprise understands"))
    return parsed


class WaitingSender:
    """The sender of a channel whose URL is not set yet: its alerts wait, naming the variable."""

    def __init__(self, missing: MissingCredential):
        self.missing = missing

    @contextlib.contextmanager
    def session(self):
        raise TransientDeliveryError(str(self.missing))
        yield  # pragma: no cover - a generator for contextmanager
