"""Hours as a brand's people live them: local days and quiet hours in the brand's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def quiet_at(now: datetime, zone: ZoneInfo, start: int, end: int) -> bool:
    """Is it between ``start`` and ``end`` o'clock (e.g. 21 to 9, across midnight) in ``zone``?"""
    hour = now.astimezone(zone).hour
    return (start <= hour or hour < end) if start > end else (start <= hour < end)


def local_day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Midnight of ``now``'s day in ``zone``: daily caps and digests count local days."""
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def local_time(utc_iso: str | None, zone: ZoneInfo) -> str:
    """``2026-11-20T10:00:00Z`` as people in ``zone`` read it: ``20/11/2026 11:00`` (Rome); ``-`` for none."""
    if not utc_iso:
        return "-"
    from .times import parse_timestamp

    return f"{parse_timestamp(utc_iso).astimezone(zone):%d/%m/%Y %H:%M}"
