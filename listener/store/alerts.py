"""The alert outbox: alerts, their deliveries, and the single-use forms of their action links.

An alert is queued once per (kind, subject) in the transaction of what it is about (a detractor
mention or answer, a spike, a spent budget, the digest), with one delivery per route: a channel
and a target (an email address, or the channel itself). The dispatcher reads what is due, sends,
and records each delivery's outcome here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

import sqlite_utils

from .cases import Case, cases_of
from .database import in_chunks, marks, where
from .mentions import StoredMention, stored_mentions
from .themes import themes_of


@dataclass(frozen=True)
class Route:
    """Where one delivery of an alert goes."""

    channel: str
    target: str  # an email address, or the channel's own name for a chat or webhook channel
    mode: str  # immediate, hourly, daily


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    subject: str
    brand: str | None
    mention_id: str | None
    details: dict
    created_at: str

    @property
    def subject_key(self) -> tuple[str, str]:
        """(kind, id) of what the alert is about, as cases name it: ("mention", id) or ("response", id)."""
        return ("mention", self.mention_id) if self.mention_id else ("response", self.subject.split(":")[-1])


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_id: int
    channel: str
    target: str
    mode: str
    attempts: int
    created_at: str


@dataclass
class Due:
    """A delivery due now, with what its message shows: the alert, its mention, its case, its themes."""

    delivery: Delivery
    alert: Alert
    mention: StoredMention | None = None
    case: Case | None = None
    themes: tuple[str, ...] = ()


def enqueue(db: sqlite_utils.Database, kind: str, subject: str, routes: Sequence[Route], now: str, *,
            mention_id: str | None = None, brand: str | None = None, details: dict | None = None) -> int:
    """Queue an alert once per (kind, subject), with a delivery per route; returns 1 if queued now,
    0 if it already was. The caller holds the transaction."""
    queued = db.execute(
        "insert or ignore into alerts (kind, subject, mention_id, brand, details, created_at) values (?, ?, ?, ?, ?, ?)",
        [kind, subject, mention_id, brand, json.dumps(details, ensure_ascii=False) if details else None, now],
    ).rowcount
    if queued:
        alert_id = db.execute("select id from alerts where kind = ? and subject = ?", [kind, subject]).fetchone()[0]
        for route in routes:
            db.execute("insert or ignore into deliveries (alert_id, channel, target, mode, status, attempts, "
                       "next_attempt_at, created_at) values (?, ?, ?, ?, 'pending', 0, ?, ?)",
                       [alert_id, route.channel, route.target, route.mode, now, now])
    return queued


def pending_count(db: sqlite_utils.Database) -> int:
    return db.execute("select count(*) from deliveries where status = 'pending'").fetchone()[0]


def alert_of(row: Mapping) -> Alert:
    return Alert(row["alert_id"] if "alert_id" in row else row["id"], row["kind"], row["subject"], row["brand"],
                 row["mention_id"], json.loads(row["details"] or "{}"),
                 row["alert_created_at"] if "alert_created_at" in row else row["created_at"])


def delivery_of(row: Mapping) -> Delivery:
    return Delivery(**{f.name: row[f.name] for f in fields(Delivery)})


def claim_due(db: sqlite_utils.Database, now: str, owner: str, until: str) -> list[Due]:
    """Claim every pending delivery whose time has come and that no other dispatcher holds (its lease
    still running), in one write transaction, and return them, oldest first, with their alert,
    mention and case. Two dispatchers at once never get the same delivery."""
    with db.atomic():
        # held is cleared: the dispatch that claims a delivery says again why it waits, if it does.
        db.execute("update deliveries set claimed_by = ?, claimed_until = ?, held = null where status = 'pending' "
                   "and next_attempt_at <= ? and (claimed_until is null or claimed_until < ?)", [owner, until, now, now])
    rows = list(db.query(
        "select d.*, a.kind, a.subject, a.mention_id, a.brand, a.details, a.created_at as alert_created_at "
        "from deliveries d join alerts a on a.id = d.alert_id "
        "where d.status = 'pending' and d.claimed_by = ? and d.claimed_until = ? order by d.id", [owner, until]))
    alerts = [alert_of(row) for row in rows]
    mentions = stored_mentions(db, {a.mention_id for a in alerts if a.mention_id})
    cases = cases_of(db, {a.subject_key for a in alerts})
    themes = themes_of(db, {a.subject_key for a in alerts})
    return [Due(delivery_of(row), alert, mentions.get(alert.mention_id), cases.get(alert.subject_key),
                themes.get(alert.subject_key, ())) for row, alert in zip(rows, alerts)]


def still_held(db: sqlite_utils.Database, delivery_ids: Sequence[int], owner: str, until: str) -> bool:
    """Renew this dispatcher's lease on the deliveries it is about to send; False if one of them is no
    longer its own (its lease ran out and another dispatcher took it over): then it must not send."""
    with db.atomic():
        held = sum(db.execute("update deliveries set claimed_until = ? where id = ? and claimed_by = ? and "
                              "status = 'pending'", [until, delivery_id, owner]).rowcount for delivery_id in delivery_ids)
    return held == len(delivery_ids)


def defer(db: sqlite_utils.Database, delivery_ids: Iterable[int], until: str, owner: str, why: str) -> None:
    """Not now: the deliveries wait until ``until`` (``why``: shown by `alerts list`), and the claim
    is released."""
    with db.atomic():
        for delivery_id in delivery_ids:
            db.execute("update deliveries set next_attempt_at = ?, claimed_by = null, claimed_until = null, "
                       "held = ? where id = ? and claimed_by = ?", [until, why, delivery_id, owner])


def hold(db: sqlite_utils.Database, delivery_ids: Iterable[int], owner: str, why: str) -> None:
    """Not in this dispatch, for ``why`` (quiet hours, a digest); asked again at the next one."""
    with db.atomic():
        for delivery_id in delivery_ids:
            db.execute("update deliveries set held = ? where id = ? and claimed_by = ?", [why, delivery_id, owner])


def reroute(db: sqlite_utils.Database, delivery_id: int, routes: Sequence[Route], now: str, owner: str) -> None:
    """A delivery for a channel no longer configured gives way to deliveries through ``routes`` (due
    now); it stays listed as 'rerouted'."""
    with db.atomic():
        alert_id = db.execute("select alert_id from deliveries where id = ? and claimed_by = ?",
                              [delivery_id, owner]).fetchone()
        if alert_id is None:
            return
        for route in routes:
            db.execute("insert or ignore into deliveries (alert_id, channel, target, mode, status, attempts, "
                       "next_attempt_at, created_at) values (?, ?, ?, ?, 'pending', 0, ?, ?)",
                       [alert_id[0], route.channel, route.target, route.mode, now, now])
        db.execute("update deliveries set status = 'rerouted', last_error = ?, claimed_by = null, claimed_until = null "
                   "where id = ?", [f"its channel is no longer configured; sent through "
                                    f"{', '.join(sorted({r.channel for r in routes}))}", delivery_id])


def release(db: sqlite_utils.Database, owner: str) -> None:
    """Every claim this dispatcher still holds, released (deliveries it planned but did not reach)."""
    with db.atomic():
        db.execute("update deliveries set claimed_by = null, claimed_until = null where claimed_by = ?", [owner])


def mark_sent(db: sqlite_utils.Database, delivery_ids: Iterable[int], message_id: str, bundle: str, now: str,
              owner: str) -> None:
    with db.atomic():
        for delivery_id in delivery_ids:
            db.execute("update deliveries set status = 'sent', attempts = attempts + 1, sent_at = ?, message_id = ?, "
                       "bundle = ?, last_error = null, claimed_by = null, claimed_until = null "
                       "where id = ? and claimed_by = ?", [now, message_id, bundle, delivery_id, owner])


def mark_failed(db: sqlite_utils.Database, deliveries: Sequence[Delivery], error: str, permanent: bool,
                next_attempt_at: Mapping[int, str], owner: str) -> None:
    """One more attempt for each delivery: 'failed' for good, or pending until its next attempt; the
    claim is released."""
    with db.atomic():
        for delivery in deliveries:
            db.execute("update deliveries set status = ?, attempts = ?, last_error = ?, next_attempt_at = ?, "
                       "claimed_by = null, claimed_until = null where id = ? and claimed_by = ?",
                       ["failed" if permanent else "pending", delivery.attempts + 1, error[:500],
                        next_attempt_at[delivery.id], delivery.id, owner])


@dataclass(frozen=True)
class SentAbout:
    """A message that went to a target: when, and about whom (for grouping later alerts with it)."""

    sent_at: str
    alert: Alert
    author: str | None
    source: str | None


def sent_since(db: sqlite_utils.Database, channel: str, target: str, since: str) -> list[SentAbout]:
    rows = db.query(
        "select d.sent_at, a.id, a.kind, a.subject, a.brand, a.mention_id, a.details, a.created_at, m.author, "
        "m.source from deliveries d join alerts a on a.id = d.alert_id left join mentions m on m.id = a.mention_id "
        "where d.channel = ? and d.target = ? and d.status = 'sent' and d.sent_at >= ? "
        "and d.bundle not in ('digest', 'backlog')",
        [channel, target, since])
    return [SentAbout(row["sent_at"], alert_of(row), row["author"], row["source"]) for row in rows]


def sent_in_hour(db: sqlite_utils.Database, channel: str, target: str, brand: str, since: str
                 ) -> tuple[int, str | None, str | None]:
    """(messages sent, last roll-up, first send) to this target about this brand since ``since``."""
    return tuple(db.execute(
        "select count(distinct case when d.bundle in ('single', 'group') then d.message_id end), "
        "max(case when d.bundle = 'rollup' then d.sent_at end), min(d.sent_at) from deliveries d "
        "join alerts a on a.id = d.alert_id where d.channel = ? and d.target = ? and a.brand = ? "
        "and d.status = 'sent' and d.sent_at >= ? and d.bundle not in ('digest', 'backlog')",
        [channel, target, brand, since]).fetchone())


def last_digest(db: sqlite_utils.Database, channel: str, target: str) -> str | None:
    return db.execute("select max(sent_at) from deliveries where channel = ? and target = ? and bundle = 'digest'",
                      [channel, target]).fetchone()[0]


def alert_exists(db: sqlite_utils.Database, kind: str, subjects: Sequence[str]) -> bool:
    return any(db.execute(f"select 1 from alerts where kind = ? and subject in ({marks(chunk)})", [kind, *chunk]
                          ).fetchone() is not None for chunk in in_chunks(subjects))


@dataclass(frozen=True)
class Listed:
    """A delivery as ``ascolto alerts list`` shows it."""

    id: int
    channel: str
    target: str
    mode: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: str
    bundle: str | None
    kind: str
    brand: str | None
    who: str
    text: str
    held: str | None = None  # why the last dispatch did not send it


def list_deliveries(db: sqlite_utils.Database, status: str | None = None, channel: str | None = None) -> list[Listed]:
    """Deliveries by channel and target, with who and what each is about (the first 60 characters)."""
    filters, args = where(("d.status = ?", status), ("d.channel = ?", channel))
    return [Listed(**row) for row in db.query(
        "select d.id, d.channel, d.target, d.mode, d.status, d.attempts, d.last_error, d.next_attempt_at, d.bundle, d.held, "
        "a.kind, a.brand, coalesce(m.author, json_extract(a.details, '$.name'), '') as who, "
        "substr(coalesce(m.text, json_extract(a.details, '$.comment'), json_extract(a.details, '$.title'), ''), 1, 60)"
        " as text from deliveries d join alerts a on a.id = d.alert_id left join mentions m on m.id = a.mention_id"
        + filters + " order by d.channel, d.target, d.id", args)]


# ---- the actions of alert links ----------------------------------------------------------------

@dataclass
class ActionSubject:
    """What a link's action is about: the delivery it was sent in (so, its recipient), the alert's
    brand and case, and the text."""

    delivery_id: int
    target: str
    kind: str
    brand: str | None
    mention_id: str | None
    subject: str
    case_id: int | None = None
    text: str = ""


def action_subject(db: sqlite_utils.Database, delivery_id: int, rowid: int | None) -> ActionSubject | None:
    """The subject of a link of delivery ``delivery_id``; ``rowid``: a mention of a near-miss list."""
    row = next(iter(db.query(
        "select d.id as delivery_id, d.target, a.kind, a.brand, a.mention_id, a.subject from deliveries d "
        "join alerts a on a.id = d.alert_id where d.id = ?", [delivery_id])), None)
    if row is None:
        return None
    found = ActionSubject(**row)
    if rowid is not None:  # an item of the near-miss list
        mention = db.execute("select id, text, brand from mentions where rowid = ?", [rowid]).fetchone()
        if mention is None:
            return None
        found.mention_id, found.text, found.brand = mention
        return found
    kind, subject_id = ("mention", found.mention_id) if found.mention_id else ("response", found.subject.split(":")[-1])
    case = db.execute("select case_id from case_subjects where kind = ? and subject_id = ?", [kind, subject_id]
                      ).fetchone()
    text = db.execute("select text from mentions where id = ?", [found.mention_id]).fetchone() if found.mention_id \
        else db.execute("select comment from survey_responses where id = ?", [subject_id]).fetchone()
    found.case_id, found.text = (case[0] if case else None), (text[0] if text and text[0] else "")
    return found


@dataclass(frozen=True)
class Use:
    at: str
    by: str


def action_use(db: sqlite_utils.Database, delivery_id: int, action: str) -> Use | None:
    """When and by whom the link of ``action`` in delivery ``delivery_id`` was used; None if never."""
    row = db.execute("select used_at, used_by from action_uses where delivery_id = ? and action = ?",
                     [delivery_id, action]).fetchone()
    return Use(*row) if row else None


def use_action(db: sqlite_utils.Database, delivery_id: int, action: str, who: str, now: str) -> bool:
    """Record the link of ``action`` as used; False if it already was. The caller holds the transaction."""
    return db.execute("insert or ignore into action_uses (delivery_id, action, used_at, used_by) values (?, ?, ?, ?)",
                      [delivery_id, action, now, who]).rowcount == 1
