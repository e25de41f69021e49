"""The digest job: each week, the report of every brand and the overdue cases, queued once to
``[reports] recipients`` (the ISO week keys it)."""

from __future__ import annotations

from listener.alerts.kinds import DIGEST_ALERT
from listener.kernel.times import iso
from listener.store.alerts import enqueue
from listener.store.cases import list_cases

from ..app import App
from ..reports.digest import digest
from ..reports.figures import brand_report, default_period
from .outcome import Outcome


def queue_digest(app: App) -> bool:
    """Queue this week's digest once; True if queued now."""
    now = app.now()
    period = default_period(now, days=app.config.reports.period_days)
    reports = [brand_report(app.db, brand.name, period, app.config.themes, brand.alert_language)
               for brand in app.config.brands]
    made = digest(reports, [listed.case for listed in list_cases(app.db, overdue_at=iso(now))], period)
    week = f"{now.isocalendar().year}-W{now.isocalendar().week:02d}"
    with app.db.atomic():
        return bool(enqueue(app.db, DIGEST_ALERT, f"digest:{week}", app.routes_for(DIGEST_ALERT), iso(now),
                            details={"title": made.title, "body": made.body, "html": made.html}))


def job_outcome(app: App) -> Outcome:
    return Outcome(["reports  weekly digest queued" if queue_digest(app) else "reports  this week's digest was queued"])
