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
from surveys import invitations
from surveys.errors import BadRow, SurveyError
from surveys.invitations import InvitationCounts
from surveys.orders import order_from_row, read_csv, save_order
from surveys.responses import reply_from_row, save_reply, save_score, unscored

from ..alerts.outbox import RESPONSE_ALERT, enqueue
from ..app import App
from ..cases import open_case
from ..pipeline import ROW_ERRORS
from ..themes.assignments import record as record_themes
from .runs import finish_run, start_run

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
    counts = ScoringCounts()
    db = app.db
    while batch := unscored(db):
        scores = app.scorer.score([row["comment"] or "" for row in batch])
        now = iso(app.now())
        for row, score in zip(batch, scores, strict=True):
            try:
                with db.atomic():  # each answer with its alert and case; a bad one does not undo the others
                    save_score(db, row["id"], score if row["comment"] else None, app.scorer.name,
                               app.config.detractor_confidence, now)
                    if row["comment"]:
                        record_themes(db, "response", [row["id"]], [row["comment"]], [score.embedding],
                                      [row["brand"]], app.theme_matcher, app.scorer.name)
                    if row["nps_class"] == "detractor":
                        counts.detractors += _follow_up(app, db, row, now)
            except ROW_ERRORS as exc:
                log.error("survey answer %s: not followed up: %s: %s", row["id"], type(exc).__name__, exc)
                with db.atomic():  # marked scored, so that it is not retried on every run
                    db.execute("update survey_responses set scored_at = ? where id = ?", [now, row["id"]])
        counts.scored += len(batch)
    counts.review_candidates = db.execute("select count(*) from survey_responses where review_candidate = 1"
                                          ).fetchone()[0]
    return counts


def _follow_up(app: App, db, row: dict, now: str) -> int:
    response = next(iter(db.query(
        "select r.id, r.score, r.comment, r.brand, r.channel, c.name, c.email, i.order_ref "
        "from survey_responses r left join customers c on c.id = r.customer_id "
        "left join survey_invitations i on i.id = r.invitation_id where r.id = ?", [row["id"]])))
    details = {k: response[k] for k in ("score", "comment", "name", "email", "order_ref", "channel")}
    open_case(db, "response", str(row["id"]), row["brand"], iso(app.case_due()), now)
    return enqueue(db, RESPONSE_ALERT, f"response:{row['id']}", app.routes_for(RESPONSE_ALERT, row["brand"]), now,
                   brand=row["brand"], details=details)
