"""Time in one place: UTC, ISO 8601 text in the database. Pass ``now`` in; never call the clock inline."""

from __future__ import annotations

from datetime import datetime, timezone

from surveys.timestamps import iso, parse_timestamp

__all__ = ["iso", "parse_timestamp", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
