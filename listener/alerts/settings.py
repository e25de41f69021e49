"""The alerts' settings (``[alerts]``, ``[alerts.smtp]``, ``[[alerts.channels]]``): dataclasses whose
fields hold their defaults and bounds, read by ``listener.config``."""

from __future__ import annotations

import os
from dataclasses import dataclass

from listener.kernel.errors import MissingCredential
from listener.settings import setting

from .kinds import ALERT_KINDS

SMTP_SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True, kw_only=True)
class Smtp:
    host: str = setting("")  # empty: alerts wait in the outbox
    port: int = setting(587, low=1, high=65535)
    security: str = setting("starttls", choices=SMTP_SECURITY)
    username: str = setting("")
    password_env: str = setting("")  # the environment variable holding the password
    timeout_seconds: float = setting(20.0, low=1)

    def password(self) -> str:
        if not self.password_env:
            return ""
        value = os.environ.get(self.password_env)
        if value is None:
            raise MissingCredential(self.password_env, "alerts.smtp")
        return value


CHANNEL_TYPES = ("email", "slack", "teams", "telegram", "webhook", "apprise")
DELIVERY_MODES = ("immediate", "hourly", "daily")


def _hours_problem(hours: tuple) -> str | None:
    ok = len(hours) == 2 and all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 23 for h in hours)
    return None if ok or not hours else f"expected [start hour, end hour] from 0 to 23, got {list(hours)!r}"


@dataclass(frozen=True, kw_only=True)
class Channel:
    """Where alerts go: email over our SMTP path, or any Apprise service (Slack, Teams, Telegram,
    Discord, ntfy, Mattermost, JSON webhooks...) whose URL, token included, is in an environment
    variable. Routing: an alert goes to every channel whose filters it passes (empty: any)."""

    name: str = setting()
    type: str = setting(choices=CHANNEL_TYPES)
    recipients: tuple[str, ...] = setting(())  # email: the addresses (brand recipients are added)
    url_env: str = setting("")  # chat and webhook channels: the environment variable holding the URL (its token)
    timeout_seconds: float = setting(10.0, low=1, high=120)  # a chat or webhook service's answer
    mode: str = setting("immediate", choices=DELIVERY_MODES)  # or an hourly / daily digest
    quiet_hours: tuple[int, ...] = setting((), check=_hours_problem, expected="[start hour, end hour], e.g. [22, 8]")
    brands: tuple[str, ...] = setting(())
    kinds: tuple[str, ...] = setting((), choices=ALERT_KINDS)
    sources: tuple[str, ...] = setting(())  # mention sources: x, reddit, feed, ...
    languages: tuple[str, ...] = setting(())



@dataclass(frozen=True, kw_only=True)
class Alerts:
    sender: str = setting("ascolto@localhost")
    recipients: tuple[str, ...] = setting(())  # the default email channel, when no channel is configured
    smtp: Smtp | None = setting(None, table=True)
    channels: tuple[Channel, ...] = setting((), table=True)
    retry_seconds: float = setting(60.0, low=1)  # first retry; doubles per attempt
    max_retry_seconds: float = setting(3600.0, low=1)
    case_due_hours: float = setting(48.0, low=0)  # a detractor's follow-up case is due this long after it arrives
    group_window_minutes: float = setting(30.0, low=0)  # alerts about one author or thread become one message
    hourly_cap: int = setting(20, low=1)  # messages per brand, hour and target; the rest roll up into one
    # An alert about a text older than this (a first run's history, a backfill) goes into one backlog
    # list, not counted against the cap.
    backlog_after_hours: float = setting(24.0, low=1)
    daily_digest_hour: int = setting(8, low=0, high=23)  # local time of the daily digests
    action_link_days: float = setting(14.0, low=1)  # how long the links in an alert work
    datasette_url: str = setting("")  # e.g. http://127.0.0.1:8001/ascolto: alerts link to the rows there
    spike_ratio: float = setting(3.0, low=1)  # an hour this many times its baseline ...
    spike_min_mentions: int = setting(10, low=1)  # ... with at least this many mentions ...
    spike_significance: float = setting(0.001, low=1e-9, high=0.5)  # ... and this unlikely by chance
