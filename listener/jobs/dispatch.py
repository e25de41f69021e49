"""The dispatch job: send the due deliveries of the outbox and record the run."""

from __future__ import annotations

from listener.kernel.times import iso
from listener.store.runs import finish_run, start_run

from ..alerts.dispatch import Dispatch, dispatch
from ..app import App
from .outcome import Outcome


def run_dispatch(app: App) -> Dispatch:
    db = app.db
    run_id = start_run(db, "alerts:dispatch", iso(app.now()))
    result = dispatch(db, app.config.alerts, app.channels, app.senders, app.message_context(), app.now(),
                      routes=lambda alert, mention: app.routes_for(alert.kind, alert.brand, mention and mention.source,
                                                                   mention and mention.lang))
    status = "ok" if not (result.error or result.failed) else "partial"
    finish_run(db, run_id, iso(app.now()), status, result.error, alerts_sent=result.sent,
               alerts_pending=result.pending, errors=result.failed)
    return result


def job_outcome(app: App) -> Outcome:
    return Outcome([summary(run_dispatch(app))])


def summary(result: Dispatch) -> str:
    line = f"alerts  sent {result.sent}  pending {result.pending}  failed {result.failed}"
    if not result.smtp_configured:
        line += "  (SMTP not configured: alerts wait in the outbox; set [alerts.smtp] host)"
    elif result.error:
        line += f"  (will retry: {result.error})"
    return line
