"""The dispatch job: send the due alerts of the outbox and record the run."""

from __future__ import annotations

from surveys.timestamps import iso

from ..alerts.outbox import Dispatch, dispatch
from ..app import App
from .runs import finish_run, start_run


def run_dispatch(app: App) -> Dispatch:
    db = app.db
    run_id = start_run(db, "alerts:dispatch", iso(app.now()))
    result = dispatch(db, app.config.alerts, app.config.brand_by_name, app.config.detractor_confidence,
                      app.mailer, app.now())
    status = "ok" if not result.error else "partial"
    finish_run(db, run_id, iso(app.now()), status, result.error, alerts_sent=result.sent,
               alerts_pending=result.pending, errors=result.failed)
    return result
