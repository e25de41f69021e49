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
from listener.store import surveys as store
from surveys.nps import PROMOTER, nps_class

from .errors import BadRow


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
    """Insert an imported reply once (keyed by source and its id); True if new. The reply is linked
    to its customer by email (created if new: a detractor's alert must say whom to answer) or by
    its order; its order is kept for the alert's subject line."""
    customer = None
    if reply.email:
        customer = store.customer_by_email(db, reply.email) or store.add_reply_customer(db, reply.email,
                                                                                       reply.answered_at)
    if customer is None and reply.order_ref:
        customer = store.customer_of_order(db, reply.order_ref)
    return store.add_imported_answer(db, customer_id=customer, brand=reply.brand, score=reply.score,
                                     nps_class=nps_class(reply.score), comment=reply.comment,
                                     external_id=f"{source}:{reply.external_id}", answered_at=reply.answered_at,
                                     order_ref=reply.order_ref)


def record_answer(db: sqlite_utils.Database, invitation: store.Invitation, score: int, comment: str | None,
                  now: str) -> int:
    """Insert or update the invitation's answer; returns its id. The caller holds the transaction."""
    return store.record_answer(db, invitation, score, nps_class(score), comment, now)


def save_score(db: sqlite_utils.Database, answer: store.Answer, score, model: str, threshold: float, now: str) -> None:
    """Store a comment's sentiment; a promoter whose comment is confidently positive may be asked for a review."""
    candidate = bool(score) and answer.nps_class == PROMOTER and score.label == "positive" \
        and score.confidence >= threshold
    values = (score.label, score.confidence, score.negative, score.neutral, score.positive) if score else (None,) * 5
    store.save_answer_score(db, answer.id, values, model if score else None, candidate, now)
