"""The one table of jobs: what each job runs, when the scheduler runs it, and what it says. The
long-running scheduler (``listener.jobs.scheduler``) and ``ascolto run --once`` both read it, so a new
job is one row here.

A job function takes the App and returns an ``Outcome`` (``listener.jobs.outcome``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..app import App
from .outcome import Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str  # the scheduler's job id, e.g. "collect:x:x"
    name: str
    run: Callable[[App], Outcome]
    trigger: Callable[[datetime], object]  # the first run's time -> an APScheduler trigger
    once: bool = True  # part of ``run --once``
    first_run: timedelta | None = timedelta(0)  # after the start (None: at its trigger's time)
    pool: str = "default"  # the scheduler's executor that runs it
    source: str | None = None  # the source a collection job reads


def jobs(app: App, only: str | None = None) -> list[Job]:
    """Every configured job, in the order ``run --once`` runs them; ``only``: one source's collection
    and the dispatch."""
    from . import collect, digest, dispatch, learning, spikes, surveys, themes

    config = app.config
    every = lambda **interval: (lambda first: IntervalTrigger(**interval, start_date=first, timezone="UTC"))  # noqa: E731
    table = [Job("themes:upkeep", "themes upkeep", themes.upkeep_outcome, every(hours=24),
                 first_run=timedelta(seconds=1))]
    table += [Job(source.job, f"collect {source.kind} {source.name}", collect.job_for(source.name),
                  every(minutes=source.interval_minutes), pool="collect", source=source.name)
              for source in config.sources]
    if config.surveys is not None:
        table.append(Job("surveys", "survey invitations and answers", surveys.job_outcome,
                         every(minutes=config.surveys.interval_minutes), first_run=timedelta(seconds=2)))
    table.append(Job("alerts:spikes", "spike and tone alerts", spikes.job_outcome,
                     lambda first: CronTrigger(minute=2, timezone="UTC"), first_run=None))
    if config.learning.enabled:
        zone = config.brands[0].timezone
        table.append(Job("model:learning", "near misses and retraining", learning.job_outcome,
                         lambda first: CronTrigger(hour=config.learning.hour, minute=15, timezone=zone),
                         first_run=None))
    table.append(Job("themes:discovery", "weekly theme discovery", themes.discovery_outcome, every(hours=24),
                     first_run=timedelta(seconds=3)))
    if config.reports is not None:
        r = config.reports
        table.append(Job("reports:digest", "weekly digest", digest.job_outcome,
                         lambda first: CronTrigger(day_of_week=r.weekday, hour=r.hour, timezone=r.timezone),
                         once=False, first_run=None))
    table.append(Job("alerts:dispatch", "dispatch alerts", dispatch.job_outcome,
                     every(minutes=config.scheduler.dispatch_interval_minutes), first_run=timedelta(seconds=5),
                     pool="dispatch"))
    if only is not None:
        table = [job for job in table if job.source == only or job.id == "alerts:dispatch"]
    return table
