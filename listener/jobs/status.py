"""What `ascolto sources` shows: each source's last run, cursor and next run, read from SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from surveys.timestamps import iso, parse_timestamp

from ..app import App
from .collect import job_name


@dataclass(frozen=True)
class SourceState:
    job: str
    interval_minutes: float
    last_run: str | None
    status: str | None
    message: str | None
    next_run: str | None  # a scheduler started now runs every source at once; this is the due time
    cursors: list[tuple[str, str]]


def source_states(app: App) -> list[SourceState]:
    states = []
    for source in app.config.sources:
        job = job_name(source)
        last = next(iter(app.db.query(
            "select started_at, status, message from runs where job = ? order by id desc limit 1", [job])), None)
        cursors = [(r["query"], r["value"]) for r in app.db.query(
            "select query, value from cursors where source = ? order by query", [job])]
        due = None
        if last:
            due = iso(parse_timestamp(last["started_at"]) + timedelta(minutes=source.interval_minutes))
        states.append(SourceState(job, source.interval_minutes, last and last["started_at"], last and last["status"],
                                  last and last["message"], due, cursors))
    return states
