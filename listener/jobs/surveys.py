"""Survey jobs the scheduler runs: send invitations and reminders; score new answers and follow up.

Scoring happens here, not in the web process: the page only stores the answer, and this job scores
the comments in batches, stores their sentiment, and for every detractor queues an alert and opens a
follow-up case in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from listener.kernel.times import days_to_yesterday, iso, parse_timestamp, shifted
from listener.store.runs import finish_run, start_run
from surveys import invitations
from surveys.errors import BadRow, SurveyError
from surveys.invitations import InvitationCounts
from surveys.orders import order_from_row, read_csv, save_order
from surveys.responses import reply_from_row, save_reply

from ..app import App
from ..pipeline import Flow, save_answers
from ..store import surveys as store
from .outcome import Outcome

log = logging.getLogger(__name__)


def zones(app: App) -> dict:
    return {b.name: b.zone for b in app.config.brands}


def import_csv(app: App, file: Path, parse, save, on_bad=None, relative_column: str | None = None
               ) -> tuple[int, int, int]:
    """Parse each CSV row (a bad one reported by line and skipped) and save it in its own
    transaction; returns (new, already known, skipped). With ``relative_column`` (sample data), that
    column's dates move by whole days so that the newest is yesterday."""
    brands = [b.name for b in app.config.brands]
    shift = _sample_shift(file, relative_column, app.now()) if relative_column else None
    new = seen = bad = 0
    for line, row in read_csv(file):
        try:
            if isinstance(row, BadRow):
                raise row
            if shift and row.get(relative_column):
                row = {**row, relative_column: shifted(row[relative_column], shift)}
            item = parse(row, brands)
        except BadRow as exc:
            bad += 1
            (on_bad or (lambda where, e: log.warning("%s: skipped: %s", where, e)))(f"{file}:{line}", exc)
            continue
        with app.db.atomic():
            added = save(app.db, item)
        new, seen = new + added, seen + (not added)
    return new, seen, bad


def _sample_shift(file: Path, column: str, now):
    times = []
    for _line, row in read_csv(file):
        try:
            times.append(parse_timestamp(row[column]))
        except (TypeError, KeyError, ValueError, AttributeError):
            continue  # a bad row is reported when it is read for real
    return days_to_yesterday(times, now)


def import_survey_files(app: App) -> tuple[int, int]:
    """The [surveys] orders_file and replies_file, new rows only: (new orders, new replies)."""
    settings, now = app.config.surveys, iso(app.now())
    relative = settings.relative_dates
    orders = replies = 0
    if settings.orders_file is not None and settings.orders_file.is_file():
        orders = import_csv(app, settings.orders_file, order_from_row,
                            lambda db, order: save_order(db, order, now, "csv"),
                            relative_column="purchased_at" if relative else None)[0]
    if settings.replies_file is not None and settings.replies_file.is_file():
        replies = import_csv(app, settings.replies_file, reply_from_row,
                             lambda db, reply: save_reply(db, reply, settings.replies_file.stem),
                             relative_column="answered_at" if relative else None)[0]
    return orders, replies


def run_invitations(app: App) -> InvitationCounts:
    run_id = start_run(app.db, "surveys:invite", iso(app.now()))
    try:
        counts = invitations.run(app.db, app.config.surveys, zones(app), app.mailer, app.now())
    except SurveyError as exc:  # e.g. the signing secret is missing: nothing can be sent
        counts = InvitationCounts(error=str(exc))
        finish_run(app.db, run_id, iso(app.now()), "skipped", str(exc))
        return counts
    finish_run(app.db, run_id, iso(app.now()), "partial" if counts.error else "ok", counts.error,
               new=counts.created, alerts_sent=counts.sent + counts.reminded, skipped=counts.skipped)
    return counts


@dataclass
class ScoringCounts:
    scored: int = 0
    detractors: int = 0
    review_candidates: int = 0


def run_response_scoring(app: App) -> ScoringCounts:
    """Score the survey answers not scored yet, in batches, through the one scoring flow."""
    counts = ScoringCounts()
    while batch := store.unscored(app.db):
        flow = Flow(app.scorer, app.alert_rules, app.routes_for, iso(app.now()), iso(app.case_due()),
                    app.theme_matcher, app.group_since())
        scored, detractors = save_answers(app.db, batch, flow, app.config.detractor_confidence)
        counts.scored += scored
        counts.detractors += detractors
    counts.review_candidates = store.review_candidates(app.db)
    return counts


def job_outcome(app: App) -> Outcome:
    """Survey files imported, invitations and reminders sent, new answers scored and followed up."""
    lines = []
    orders, replies = import_survey_files(app)
    if orders or replies:
        lines.append(f"surveys  imported {orders} orders, {replies} replies")
    sent = run_invitations(app)
    lines.append(f"surveys  invited {sent.sent}  reminded {sent.reminded}  waiting {sent.waiting}  "
                 f"not allowed {sent.skipped}" + (f"  [{sent.error}]" if sent.error else ""))
    scored = run_response_scoring(app)
    lines.append(f"answers  scored {scored.scored}  detractors {scored.detractors}  "
                 f"review candidates {scored.review_candidates}")
    return Outcome(lines)
