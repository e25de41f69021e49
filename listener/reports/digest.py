"""The weekly digest to marketers: the report, its charts and the overdue cases, through the outbox."""

from __future__ import annotations

from listener.kernel.times import iso

from ..alerts.outbox import DIGEST_ALERT, enqueue
from ..app import App
from ..cases import list_cases
from .figures import brand_report, default_period
from .page import html_report, text_report


def overdue_lines(app: App) -> list[str]:
    return [f"#{c['id']} {c['brand']} {c['kind']} {c['subject_id']} due {c['due_at']} ({c['status']}, "
            f"owner {c['owner'] or 'nobody'})" for c in list_cases(app.db, overdue_at=iso(app.now()))]


def queue_digest(app: App) -> bool:
    """Queue this week's digest once (the ISO week keys it); True if queued now."""
    settings = app.config.reports
    now = app.now()
    period = default_period(now, days=settings.period_days)
    reports = [brand_report(app.db, brand.name, period, app.config.themes) for brand in app.config.brands]
    overdue = overdue_lines(app)
    title = f"Ascolto weekly digest, {period.start:%d %b} to {period.end:%d %b %Y}"
    body = "\n\n".join(text_report(r) for r in reports)
    body += "\n\nOverdue cases:\n" + ("\n".join(overdue) if overdue else "none")
    html = html_report(reports, title).replace(
        "</body>", "<h2>Overdue cases</h2><pre>" + ("\n".join(overdue) or "none").replace("<", "&lt;")
        + "</pre></body>")
    week = f"{now.isocalendar().year}-W{now.isocalendar().week:02d}"
    with app.db.atomic():
        return bool(enqueue(app.db, DIGEST_ALERT, f"digest:{week}", app.routes_for(DIGEST_ALERT), iso(now),
                            details={"title": title, "body": body, "html": html}))
