"""The nightly learning jobs: the near-miss list to community managers, and retraining on corrections."""

from __future__ import annotations

from datetime import timedelta

from listener.alerts.kinds import NEAR_MISSES_ALERT
from listener.kernel.times import iso
from listener.learning.retrain import Retrain, retrain
from listener.learning.watch import watch_adoption
from listener.store.alerts import enqueue
from listener.store.models import near_misses
from listener.store.runs import finish_run, start_run

from ..app import App
from .outcome import Outcome

RUN_STATUS = {"adopted": "ok", "refused": "refused", "skipped": "skipped"}


def run_retrain(app: App, force: bool = False) -> Retrain:
    run_id = start_run(app.db, "model:retrain", iso(app.now()))
    try:
        result = retrain(app, force)
    except Exception as exc:
        finish_run(app.db, run_id, iso(app.now()), "error", f"{type(exc).__name__}: {exc}"[:500])
        raise
    finish_run(app.db, run_id, iso(app.now()), RUN_STATUS[result.status], result.message)
    return result


def run_near_misses(app: App) -> int:
    """Queue, per brand, yesterday's mentions that came close to an alert, each with a "this is a
    complaint" link: the misses people point out teach the detector. Returns the lists queued."""
    now = app.now()
    since, settings = now - timedelta(days=1), app.config.learning
    queued = 0
    for brand in app.config.brands:
        rows = near_misses(app.db, brand.name, iso(since), iso(now), settings.near_miss_share, settings.near_miss_max)
        if not rows:
            continue
        title = f"{brand.name}: {len(rows)} mentions came close to an alert"
        body = ("They did not raise an alert, but the detector was not far from its threshold. "
                "If one is a complaint, say so with its link: the model learns from it.")
        details = {"title": title, "body": body, "mentions": [row.as_dict() for row in rows]}
        with app.db.atomic():
            queued += enqueue(app.db, NEAR_MISSES_ALERT, f"near:{brand.name}:{now:%Y-%m-%d}",
                              app.routes_for(NEAR_MISSES_ALERT, brand.name), iso(now), brand=brand.name,
                              details=details)
    return queued


def job_outcome(app: App) -> Outcome:
    """The nightly list of near misses, then retraining when enough corrections came in."""
    near = run_near_misses(app)
    quieter = watch_adoption(app)
    retrained = run_retrain(app)
    return Outcome([f"model  near-miss lists {near}  retrain {retrained.status}: {retrained.message}"
                    + ("  alerts fell since the last adoption: the team is told" if quieter else "")])
