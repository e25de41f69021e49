"""Times as the database holds them: UTC ISO 8601 text with a 'Z', and the one call to the real clock.

Both packages need these and surveys may not import listener, so they live here and listener
imports them from here. Code that needs the time takes a ``now`` callable; only ``utc_now`` reads the
real clock, and only as that callable's default.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """UTC, second precision, 'Z' suffix: sorts as text and reads well in Datasette."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


EARLIEST, LATEST = 1970, 2100  # a purchase, a post or an answer outside these years is a typo


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 with a zone ('Z' or an offset); a naive time is refused rather than guessed, and so is
    a year outside 1970-2100 (it would not sort, nor make sense, as a purchase or a post)."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone (add Z or an offset such as +01:00)")
    if not EARLIEST <= moment.year <= LATEST or not EARLIEST <= moment.astimezone(timezone.utc).year <= LATEST:
        raise ValueError(f"timestamp {value!r} is not between {EARLIEST} and {LATEST}")
    return moment


def days_to_yesterday(times: Iterable[datetime], now: datetime) -> timedelta:
    """The whole days that move the newest of ``times`` to the day before ``now``: sample data dated
    relative to its import never ages (the example's report shows the last weeks on any date).
    Whole days keep each time of day; an empty ``times`` moves nothing."""
    newest = max(times, default=None)
    if newest is None:
        return timedelta(0)
    yesterday = (now - timedelta(days=1)).astimezone(timezone.utc).date()
    return timedelta(days=(yesterday - newest.astimezone(timezone.utc).date()).days)


def shifted(value: str, by: timedelta) -> str:
    """An ISO timestamp moved by ``by``; a value that is not a timestamp is left for its reader to refuse."""
    try:
        return iso(parse_timestamp(value) + by)
    except (ValueError, AttributeError):
        return value
