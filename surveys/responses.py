"""Answers in: from the web page, from another survey tool's export; and what follows from them.

The class comes from the score (0-6 detractor, 7-8 passive, 9-10 promoter). The comment's sentiment
is scored later, in batches, by the pipeline (the web process never loads a model); answering again
updates the one response of an invitation and clears its sentiment so it is scored anew.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlite_utils

from listener.kernel.textfiles import clean
from listener.kernel.times import iso, parse_timestamp
from surveys.nps import PROMOTER, nps_class

from .errors import BadRow


def record_answer(db: sqlite_utils.Database, invitation: dict, score: int, comment: str | None, now: str) -> int:
    """Insert or update the invitation's response; returns its id. The caller holds the transaction."""
    cls = nps_class(score)
    db.execute(
        "insert into survey_responses (invitation_id, customer_id, brand, score, nps_class, comment, channel, "
        "answered_at) values (?, ?, ?, ?, ?, ?, 'web', ?) "
        "on conflict (invitation_id) do update set score = excluded.score, nps_class = excluded.nps_class, "
        "comment = excluded.comment, updated_at = excluded.answered_at, sentiment = null, sentiment_score = null, "
        "p_negative = null, p_neutral = null, p_positive = null, model = null, scored_at = null, "
        "review_candidate = 0",
        [invitation["id"], invitation["customer_id"], invitation["brand"], score, cls, comment or None, now])
    db.execute("update survey_invitations set status = 'answered' where id = ?", [invitation["id"]])
    return db.execute("select id from survey_responses where invitation_id = ?", [invitation["id"]]).fetchone()[0]


def unsubscribe(db: sqlite_utils.Database, customer_id: int, now: str) -> None:
    db.execute("update customers set unsubscribed_at = coalesce(unsubscribed_at, ?) where id = ?", [now, customer_id])
    db.execute("update survey_invitations set status = 'cancelled', last_error = 'unsubscribed' "
               "where customer_id = ? and status = 'pending'", [customer_id])


@dataclass(frozen=True)
class ImportedReply:
    external_id: str
    email: str | None
    order_ref: str | None
    brand: str
    score: int
    comment: str | None
    answered_at: str


def parse_score(value) -> int:
    """0 is a score; an empty cell is not. Accepts 7, "7", "7.0"; refuses 7.5, 11, "", None."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        raise BadRow(f"score {value!r} is not a number from 0 to 10") from None
    if not number.is_integer() or not 0 <= number <= 10:
        raise BadRow(f"score {value!r} is not a whole number from 0 to 10")
    return int(number)


def reply_from_row(row: Mapping, brands: Sequence[str]) -> ImportedReply:
    ref = (row.get("id") or row.get("response_id") or "").strip()
    if not ref:
        raise BadRow("missing id (the other tool's response id)")
    email = (row.get("email") or "").strip().lower() or None
    order = (row.get("order_ref") or "").strip() or None
    try:
        answered = iso(parse_timestamp(row.get("answered_at") or ""))
    except ValueError as exc:
        raise BadRow(f"answered_at: {exc}") from None
    brand = (row.get("brand") or "").strip() or brands[0]
    if brand not in brands:
        raise BadRow(f"brand {brand!r} is not configured")
    return ImportedReply(ref, email, order, brand, parse_score(row.get("score")),
                         clean(row.get("comment") or "").strip() or None, answered)


def save_reply(db: sqlite_utils.Database, reply: ImportedReply, source: str) -> bool:
    """Insert an imported reply once (keyed by source and its id); True if new."""
    customer = None
    if reply.email:
        customer = db.execute("select id from customers where email = ?", [reply.email]).fetchone()
    elif reply.order_ref:
        customer = db.execute("select customer_id from orders where order_ref = ?", [reply.order_ref]).fetchone()
    return db.execute(
        "insert or ignore into survey_responses (customer_id, brand, score, nps_class, comment, channel, "
        "external_id, answered_at) values (?, ?, ?, ?, ?, 'import', ?, ?)",
        [customer[0] if customer else None, reply.brand, reply.score, nps_class(reply.score), reply.comment,
         f"{source}:{reply.external_id}", reply.answered_at]).rowcount == 1


def unscored(db: sqlite_utils.Database, limit: int = 256) -> list[dict]:
    return list(db.query("select id, brand, score, nps_class, comment from survey_responses "
                         "where scored_at is null order by id limit ?", [limit]))


def save_score(db: sqlite_utils.Database, response_id: int, score, model: str, threshold: float, now: str) -> None:
    """Store a comment's sentiment; a promoter whose comment is confidently positive may be asked for a review."""
    row = db.execute("select nps_class from survey_responses where id = ?", [response_id]).fetchone()
    candidate = bool(score) and row[0] == PROMOTER and score.label == "positive" and score.confidence >= threshold
    values = ([score.label, score.confidence, score.negative, score.neutral, score.positive] if score
              else [None] * 5)
    db.execute("update survey_responses set sentiment = ?, sentiment_score = ?, p_negative = ?, p_neutral = ?, "
               "p_positive = ?, model = ?, review_candidate = ?, scored_at = ? where id = ?",
               [*values, model if score else None, int(candidate), now, response_id])
