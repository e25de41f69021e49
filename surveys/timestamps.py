"""Times as the database holds them: UTC ISO 8601 text with a 'Z'. One definition for both packages
(listener.clock re-exports these; surveys cannot import listener)."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(moment: datetime) -> str:
    """UTC, second precision, 'Z' suffix: sorts as text and reads well in Datasette."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 with a zone ('Z' or an offset); a naive time is refused rather than guessed."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone (add Z or an offset such as +01:00)")
    return moment
