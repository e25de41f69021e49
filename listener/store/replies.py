"""Replies sent to customers from Ascolto, one row each: what, where, by whom, and how it went.

A reply is recorded before it is sent (status 'sending', keyed by its form's idempotency key), then
marked 'sent' with the platform's id, 'failed' with the platform's reason (the draft kept), or
'copied' where the platform takes no reply through an API and the person posts it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True)
class Reply:
    id: int
    key: str
    case_id: int | None
    kind: str  # "mention" or "response"
    subject_id: str
    brand: str | None
    channel: str  # the platform ("mastodon", "reddit"...), "email", or "manual"
    text: str
    who: str | None
    created_at: str
    status: str  # sending, sent, failed, copied
    sent_at: str | None = None
    platform_id: str | None = None
    error: str | None = None


def start_reply(db: sqlite_utils.Database, *, key: str, case_id: int | None, kind: str, subject_id: str,
                brand: str | None, channel: str, text: str, who: str | None, now: str) -> tuple[Reply, bool]:
    """The reply of this form (``key``): recorded now as 'sending' (True), or the one a first press
    of the same form recorded (False: send nothing). The caller holds the transaction."""
    inserted = db.execute(
        "insert or ignore into replies (key, case_id, kind, subject_id, brand, channel, text, who, created_at, "
        "status) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sending')",
        [key, case_id, kind, subject_id, brand, channel, text, who, now]).rowcount == 1
    return reply_by_key(db, key), inserted


def finish_reply(db: sqlite_utils.Database, reply_id: int, status: str, now: str, platform_id: str | None = None,
                 error: str | None = None) -> None:
    db.execute("update replies set status = ?, sent_at = case when ? in ('sent', 'copied') then ? end, "
               "platform_id = ?, error = ? where id = ?", [status, status, now, platform_id, error, reply_id])


def reply_by_key(db: sqlite_utils.Database, key: str) -> Reply | None:
    row = next(iter(db.query("select * from replies where key = ?", [key])), None)
    return Reply(**row) if row else None


def replies_of(db: sqlite_utils.Database, kind: str, subject_id: str) -> list[Reply]:
    return [Reply(**row) for row in db.query("select * from replies where kind = ? and subject_id = ? order by id",
                                             [kind, subject_id])]


def first_reply_hours(db: sqlite_utils.Database, brand: str, start: str, end: str) -> list[tuple[str, float]]:
    """(channel, hours from the alert to the first reply sent) of each alert of the period answered:
    the time a customer waited for an answer."""
    return [tuple(r) for r in db.execute(
        "select r.channel, (julianday(min(r.sent_at)) - julianday(a.created_at)) * 24 from replies r "
        "join alerts a on (r.kind = 'mention' and a.mention_id = r.subject_id) "
        "or (r.kind = 'response' and a.subject = 'response:' || r.subject_id) "
        "where r.brand = ? and r.status in ('sent', 'copied') and a.created_at >= ? and a.created_at < ? "
        "group by a.id", [brand, start, end]).fetchall()]


@dataclass(frozen=True)
class Subject:
    """What the reply page shows of the text answered: a mention, or a survey answer and its customer."""

    kind: str
    subject_id: str
    brand: str | None
    text: str
    created_at: str | None
    author: str | None = None  # a mention's
    source: str | None = None
    url: str | None = None
    lang: str | None = None
    raw: str | None = None
    score: int | None = None  # a survey answer's
    email: str | None = None
    name: str | None = None
    order_ref: str | None = None
    invitation: str | None = None


def subject_of(db: sqlite_utils.Database, kind: str, subject_id: str) -> Subject | None:
    if kind == "mention":
        row = next(iter(db.query(
            "select brand, text, created_at, author, source, url, lang, raw from mentions where id = ?",
            [subject_id])), None)
    else:
        row = next(iter(db.query(
            "select r.brand, coalesce(r.comment, '') as text, r.answered_at as created_at, r.score, c.email, "
            "c.name, coalesce(i.order_ref, r.order_ref) as order_ref, i.public_id as invitation, i.lang "
            "from survey_responses r left join customers c on c.id = r.customer_id "
            "left join survey_invitations i on i.id = r.invitation_id where r.id = ?", [subject_id])), None)
    return Subject(kind, str(subject_id), **row) if row else None


def earlier_by_author(db: sqlite_utils.Database, brand: str | None, source: str, author: str, before: str,
                      limit: int = 5) -> list[tuple[str, str, str | None]]:
    """(created_at, text, url) of the author's earlier mentions of the brand, the latest first."""
    return [tuple(r) for r in db.execute(
        "select created_at, text, url from mentions where brand = ? and source = ? and author = ? "
        "and created_at < ? order by created_at desc limit ?", [brand, source, author, before, limit])]
