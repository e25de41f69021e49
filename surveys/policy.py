"""The contact policy: who may be surveyed, and when. Pure functions of the facts and the clock.

Customers dislike being chased: a survey needs a recorded legal basis, comes a few days after the
purchase, at most once per customer per 90 days, never at night in the brand's time zone, within a
daily cap, with one reminder at most, and never again after an unsubscribe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from listener.kernel.hours import quiet_at

# GDPR art. 6(1)(a) consent; 6(1)(f) legitimate interest (in Italy, the soft opt-in of art. 130(4)
# of the Codice Privacy covers service surveys to existing customers).
LEGAL_BASES = ("consent", "legitimate_interest")


@dataclass(frozen=True)
class ContactPolicy:
    """The [surveys] keys of the policy; the field metadata gives the configuration reader their bounds."""

    delay_days: float = field(default=3, metadata={"low": 0})
    min_days_between_surveys: float = field(default=90, metadata={"low": 0})
    reminder_after_days: float = field(default=4, metadata={"low": 0})  # 0: no reminder
    link_valid_days: float = field(default=30, metadata={"low": 1})
    quiet_start_hour: int = 21  # local time: no email from 21:00 ... (the config's quiet_hours = [21, 9])
    quiet_end_hour: int = 9  # ... to 09:00
    daily_cap: int = field(default=200, metadata={"low": 1})  # invitations and reminders per brand per local day


@dataclass(frozen=True)
class Decision:
    send: bool
    reason: str  # why not, or "ok"
    final: bool = False  # a "no" that waiting will not change


OK = Decision(True, "ok")


def in_quiet_hours(now: datetime, zone: ZoneInfo, policy: ContactPolicy) -> bool:
    return quiet_at(now, zone, policy.quiet_start_hour, policy.quiet_end_hour)


def may_invite(*, legal_basis: str | None, unsubscribed: bool, purchased_at: datetime,
               last_surveyed_at: datetime | None, sent_today: int, now: datetime, zone: ZoneInfo,
               policy: ContactPolicy) -> Decision:
    if legal_basis not in LEGAL_BASES:
        return Decision(False, "no recorded legal basis", final=True)
    if unsubscribed:
        return Decision(False, "unsubscribed", final=True)
    if last_surveyed_at is not None and now - last_surveyed_at < timedelta(days=policy.min_days_between_surveys):
        return Decision(False, f"surveyed less than {policy.min_days_between_surveys:g} days ago", final=True)
    if now - purchased_at < timedelta(days=policy.delay_days):
        return Decision(False, f"waiting {policy.delay_days:g} days after the purchase")
    return may_send_now(sent_today, now, zone, policy)


def may_remind(*, unsubscribed: bool, answered: bool, reminded: bool, sent_at: datetime, expires_at: datetime,
               sent_today: int, now: datetime, zone: ZoneInfo, policy: ContactPolicy) -> Decision:
    if unsubscribed or answered or reminded or policy.reminder_after_days <= 0:
        return Decision(False, "no reminder due", final=True)
    if now >= expires_at:
        return Decision(False, "links expired", final=True)
    if now - sent_at < timedelta(days=policy.reminder_after_days):
        return Decision(False, f"waiting {policy.reminder_after_days:g} days before the reminder")
    return may_send_now(sent_today, now, zone, policy)


def may_send_now(sent_today: int, now: datetime, zone: ZoneInfo, policy: ContactPolicy) -> Decision:
    """The clock's part of the policy: not in quiet hours, not over the daily cap."""
    if in_quiet_hours(now, zone, policy):
        return Decision(False, "quiet hours")
    if sent_today >= policy.daily_cap:
        return Decision(False, "daily cap reached")
    return OK
