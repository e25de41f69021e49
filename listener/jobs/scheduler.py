"""The long-running main job: APScheduler 3.x runs the table of jobs (``listener.jobs.table``).

Three pools, so that alerts never wait behind collection: ``collect`` runs up to ``collect_workers``
sources at once (each source one run at a time: a slow or hanging source holds only its own worker),
``dispatch`` sends alerts on its own thread, and ``default`` runs the rest (surveys, themes, learning)
one after another. The model scores one batch at a time whoever asks (``App.scoring``), and each
thread writes through its own SQLite connection, the writers serialised by SQLite (BEGIN IMMEDIATE).
Jobs coalesce (a backlog of missed runs becomes one run), never overlap (max_instances=1), and may
start up to a minute late after a pause (the 1-second default grace would silently skip them).
Failures are logged and recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from ..app import App
from .table import Job, jobs

log = logging.getLogger(__name__)
MISFIRE_GRACE_SECONDS = 60
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}


def run_logged(app: App, job: Job) -> None:
    """A job's run as the scheduler does it: its summary in the log, a failure as an error."""
    outcome = job.run(app)
    for line in outcome.lines:
        log.info("%s", line)
    if outcome.failure:
        log.error("%s failed: %s", job.name, outcome.failure)


def _on_event(event) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
    else:
        log.error("job %s failed: %s", event.job_id, event.exception)


def build_scheduler(app: App, start: datetime | None = None, only: str | None = None) -> BlockingScheduler:
    """Every job of the table (or the source ``only`` and the dispatch), each with its explicit id;
    the first runs start right away (``start``)."""
    pools = {"default": ThreadPoolExecutor(1), "collect": ThreadPoolExecutor(app.config.scheduler.collect_workers),
             "dispatch": ThreadPoolExecutor(1)}
    scheduler = BlockingScheduler(executors=pools, timezone="UTC")
    first = start or app.now()
    for job in jobs(app, only):
        when = {"next_run_time": first + job.first_run} if job.first_run is not None else {}
        scheduler.add_job(run_logged, job.trigger(first), args=[app, job], id=job.id, name=job.name,
                          executor=job.pool, replace_existing=True, **when, **JOB_DEFAULTS)
    scheduler.add_listener(_on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler
