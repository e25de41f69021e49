"""The long-running main job: APScheduler 3.x runs each source and the alert dispatch on intervals.

One worker thread: SQLite has one writer, and the model is shared. Jobs coalesce (a backlog of missed
runs becomes one run), never overlap (max_instances=1), and may start up to a minute late after a
pause (the 1-second default grace would silently skip them). Failures are logged and recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from ..app import App
from .collect import job_name, run_source
from .dispatch import run_dispatch

log = logging.getLogger(__name__)
MISFIRE_GRACE_SECONDS = 60
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}


def source_job(app: App, source_name: str) -> None:
    result = run_source(app, app.config.source(source_name))
    c = result.counts
    if result.message:
        (log.error if result.failed else log.warning)("%s: %s: %s", result.job, result.status, result.message)
    log.info("%s: %s; fetched %d, new %d, detractors %d", result.job, result.status, c.fetched, c.new, c.detractors)


def surveys_job(app: App) -> None:
    from .surveys import import_survey_files, run_invitations, run_response_scoring

    orders, replies = import_survey_files(app)
    if orders or replies:
        log.info("surveys: imported %d orders, %d replies", orders, replies)
    sent = run_invitations(app)
    if sent.error:
        log.warning("surveys: %s", sent.error)
    scored = run_response_scoring(app)
    log.info("surveys: invited %d, reminded %d; answers scored %d, detractors %d", sent.sent, sent.reminded,
             scored.scored, scored.detractors)


def digest_job(app: App) -> None:
    from ..reports.digest import queue_digest

    if queue_digest(app):
        log.info("reports: weekly digest queued")


def spikes_job(app: App) -> None:
    from .spikes import run_spikes

    for brand, spike in run_spikes(app):
        log.warning("%s: %s spike: %d mentions against %.1f usually", brand, spike.kind, spike.count, spike.baseline)


def learning_job(app: App) -> None:
    """The nightly list of near misses, then retraining when enough corrections came in."""
    from .learning import run_near_misses, run_retrain

    run_near_misses(app)
    result = run_retrain(app)
    (log.warning if result.status == "refused" else log.info)("model: %s", result.message)


def themes_job(app: App) -> None:
    """Texts assigned again after a taxonomy change; the week's discovery (once a week)."""
    from .themes import keep_themes_current, run_discovery

    reassigned = keep_themes_current(app)
    if reassigned is not None:
        log.info("themes: taxonomy changed, %d texts assigned again", reassigned)
    found = run_discovery(app)
    if found.candidates:
        log.info("themes: %d candidate themes among %d complaints without a theme", found.candidates, found.texts)


def dispatch_job(app: App) -> None:
    result = run_dispatch(app)
    if result.sent or result.retrying or result.failed:
        log.info("alerts: sent %d, retrying %d, failed %d", result.sent, result.retrying, result.failed)


def _on_event(event) -> None:
    if event.code == EVENT_JOB_MISSED:
        log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
    else:
        log.error("job %s failed: %s", event.job_id, event.exception)


def build_scheduler(app: App, start: datetime | None = None, only: str | None = None) -> BlockingScheduler:
    """Every configured job (or the source ``only`` and the dispatch) with an explicit id; the first
    runs start right away (``start``)."""
    scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(1)}, timezone="UTC")
    first = start or app.now()
    for source in app.config.sources:
        if only is not None and source.name != only:
            continue
        scheduler.add_job(source_job, "interval", args=[app, source.name], id=job_name(source),
                          name=f"collect {source.kind} {source.name}", minutes=source.interval_minutes,
                          next_run_time=first, replace_existing=True, **JOB_DEFAULTS)
    if app.config.surveys is not None and only is None:
        scheduler.add_job(surveys_job, "interval", args=[app], id="surveys", name="survey invitations and answers",
                          minutes=app.config.surveys.interval_minutes, next_run_time=first + timedelta(seconds=2),
                          replace_existing=True, **JOB_DEFAULTS)
    if only is None:
        scheduler.add_job(spikes_job, CronTrigger(minute=2, timezone="UTC"), args=[app], id="alerts:spikes",
                          name="spike and tone alerts", replace_existing=True, **JOB_DEFAULTS)
    if only is None and app.config.learning.enabled:
        zone = app.config.brands[0].timezone
        scheduler.add_job(learning_job, CronTrigger(hour=app.config.learning.hour, minute=15, timezone=zone),
                          args=[app], id="model:learning", name="near misses and retraining", replace_existing=True,
                          **JOB_DEFAULTS)
    if only is None:  # at start (a changed taxonomy), then daily; discovery acts once a week
        scheduler.add_job(themes_job, "interval", args=[app], id="themes", name="themes upkeep and discovery",
                          hours=24, next_run_time=first + timedelta(seconds=1), replace_existing=True, **JOB_DEFAULTS)
    if app.config.reports is not None and only is None:
        r = app.config.reports
        scheduler.add_job(digest_job, CronTrigger(day_of_week=r.weekday, hour=r.hour, timezone=r.timezone),
                          args=[app], id="reports:digest", name="weekly digest", replace_existing=True,
                          **JOB_DEFAULTS)
    scheduler.add_job(dispatch_job, "interval", args=[app], id="alerts:dispatch", name="dispatch alerts",
                      minutes=app.config.scheduler.dispatch_interval_minutes,
                      next_run_time=first + timedelta(seconds=5), replace_existing=True, **JOB_DEFAULTS)
    scheduler.add_listener(_on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler
