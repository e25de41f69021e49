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
