"""What `ascolto sources` shows: each source's last run, cursor and next run, read from SQLite."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import timedelta

from listener.kernel.times import iso, parse_timestamp

from ..app import App
from ..sources.base import SourceSettings
from ..sources.registry import SOURCES
from ..store.mentions import cursors_of
from ..store.runs import last_run
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
    missing: list[str]  # environment variables the source needs and that are not set
    reply_missing: list[str] = field(default_factory=list)  # those only replies from Ascolto need


def source_states(app: App) -> list[SourceState]:
    states = []
    for source in app.config.sources:
        job = job_name(source)
        last = last_run(app.db, job)
        due = iso(parse_timestamp(last.started_at) + timedelta(minutes=source.interval_minutes)) if last else None
        states.append(SourceState(job, source.interval_minutes, last and last.started_at, last and last.status,
                                  last and last.message, due, cursors_of(app.db, job), missing_credentials(source),
                                  missing_credentials(source, replies=True)))
    return states


def missing_credentials(source: SourceSettings, replies: bool = False) -> list[str]:
    """The unset environment variables a source reads its credentials from (its ``*_env`` settings):
    those it collects with, or (``replies``) those only replies need (marked ``reply=True``)."""
    names = [getattr(source, f.name) for f in fields(source)
             if f.name.endswith("_env") and bool(f.metadata.get("reply")) == replies]
    return [name for name in names if name and not os.environ.get(name)]


def other_source_types(app: App) -> list[tuple[str, str, str]]:
    """(type, label, what it reads) of each source type the configuration does not use yet."""
    used = {source.kind for source in app.config.sources}
    return [(kind, module.LABEL, (module.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "))
            for kind, module in SOURCES.items() if kind not in used]
