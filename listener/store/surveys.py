"""Survey tables: customers and their orders, invitations, answers and the single-use forms of the
answer page. The survey logic (who may be asked, when, what an answer means) is ``surveys``'."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import sqlite_utils


@dataclass(frozen=True)
class OrderToInvite:
    """An order no invitation exists for yet, with what the contact policy needs of its customer."""

    order_ref: str
    brand: str
    purchased_at: str
    customer_id: int
    lang: str
    legal_basis: str | None
    unsubscribed_at: str | None
    last_surveyed_at: str | None


@dataclass(frozen=True)
class Invitation:
    """An invitation with its customer's address, name and unsubscription."""

    id: int
    public_id: str
    customer_id: int
    order_ref: str
    brand: str
    lang: str
    status: str
    created_at: str
    sent_at: str | None
    reminded_at: str | None
    opened_at: str | None
    opened_score: int | None
    expires_at: str
    attempts: int
    last_error: str | None
    email: str
    name: str | None
    unsubscribed_at: str | None


def _record(cls, row: Mapping):
    return cls(**{f.name: row[f.name] for f in fields(cls)})


# ---- customers and orders --------------------------------------------------------------------

def upsert_customer(db: sqlite_utils.Database, email: str, name: str | None, lang: str, legal_basis: str | None,
                    now: str) -> int:
    """The customer with this address, created or updated; a later order without a legal basis does
    not erase one recorded before. Returns the customer's id; the caller commits."""
    found = db.execute("select id from customers where email = ?", [email]).fetchone()
    if found is None:
        return db["customers"].insert({"email": email, "name": name, "lang": lang, "legal_basis": legal_basis,
                                       "created_at": now, "updated_at": now}).last_pk
    db.execute("update customers set name = coalesce(?, name), lang = ?, legal_basis = coalesce(?, legal_basis), "
               "updated_at = ? where id = ?", [name, lang, legal_basis, now, found[0]])
    return found[0]


def add_order(db: sqlite_utils.Database, order_ref: str, brand: str, customer_id: int, purchased_at: str, now: str,
              channel: str) -> bool:
    """Insert the order if new; True if it is."""
    return db.execute(
        "insert or ignore into orders (order_ref, brand, customer_id, purchased_at, received_at, channel) "
        "values (?, ?, ?, ?, ?, ?)", [order_ref, brand, customer_id, purchased_at, now, channel]).rowcount == 1


def customer_by_email(db: sqlite_utils.Database, email: str) -> int | None:
    row = db.execute("select id from customers where email = ?", [email]).fetchone()
    return row[0] if row else None


def add_reply_customer(db: sqlite_utils.Database, email: str, now: str) -> int:
    """A customer known only from a survey reply another tool collected: someone to answer, never
    invited (invitations come from orders; an order later fills in the language and legal basis).
    Language 'und' (undetermined) until then."""
    return db["customers"].insert({"email": email, "lang": "und", "created_at": now, "updated_at": now}).last_pk


def customer_of_order(db: sqlite_utils.Database, order_ref: str) -> int | None:
    row = db.execute("select customer_id from orders where order_ref = ?", [order_ref]).fetchone()
    return row[0] if row else None


def unsubscribe(db: sqlite_utils.Database, customer_id: int, now: str) -> None:
    """For good: the customer is never surveyed again, and their pending invitations are cancelled."""
    db.execute("update customers set unsubscribed_at = coalesce(unsubscribed_at, ?) where id = ?", [now, customer_id])
    db.execute("update survey_invitations set status = 'cancelled', last_error = 'unsubscribed' "
               "where customer_id = ? and status = 'pending'", [customer_id])


# ---- invitations -----------------------------------------------------------------------------

def orders_to_invite(db: sqlite_utils.Database) -> list[OrderToInvite]:
    return [_record(OrderToInvite, row) for row in db.query(
        "select o.order_ref, o.brand, o.purchased_at, c.id as customer_id, c.lang, c.legal_basis, "
        "c.unsubscribed_at, c.last_surveyed_at from orders o join customers c on c.id = o.customer_id "
        "where not exists (select 1 from survey_invitations i where i.order_ref = o.order_ref) "
        "order by o.purchased_at")]


def sent_since(db: sqlite_utils.Database, brand: str, since: str) -> int:
    """Invitations and reminders sent for ``brand`` since ``since``."""
    return db.execute(
        "select (select count(*) from survey_invitations where brand = ? and sent_at >= ?)"
        " + (select count(*) from survey_invitations where brand = ? and reminded_at >= ?)",
        [brand, since, brand, since]).fetchone()[0]


def pending_count(db: sqlite_utils.Database, brand: str) -> int:
    return db.execute("select count(*) from survey_invitations where brand = ? and status = 'pending'",
                      [brand]).fetchone()[0]


def invited_or_surveyed(db: sqlite_utils.Database, order_ref: str, customer_id: int) -> tuple[bool, str | None]:
    """(is there an invitation for the order, the customer's last survey time), read inside the
    caller's write transaction."""
    invited, last = db.execute(
        "select exists (select 1 from survey_invitations where order_ref = ?), last_surveyed_at from customers "
        "where id = ?", [order_ref, customer_id]).fetchone()
    return bool(invited), last


def create_invitation(db: sqlite_utils.Database, *, public_id: str, order: OrderToInvite, status: str, now: str,
                      expires_at: str, reason: str | None) -> None:
    """A pending invitation (the customer marked as surveyed now), or one skipped for ``reason``."""
    db["survey_invitations"].insert({
        "public_id": public_id, "customer_id": order.customer_id, "order_ref": order.order_ref, "brand": order.brand,
        "lang": order.lang, "status": status, "created_at": now, "expires_at": expires_at, "attempts": 0,
        "last_error": reason})
    if status == "pending":
        db.execute("update customers set last_surveyed_at = ? where id = ?", [now, order.customer_id])


_WITH_CUSTOMER = ("select i.*, c.email, c.name, c.unsubscribed_at from survey_invitations i "
                  "join customers c on c.id = i.customer_id ")


def pending_invitations(db: sqlite_utils.Database) -> list[Invitation]:
    return [_record(Invitation, row) for row in db.query(_WITH_CUSTOMER + "where i.status = 'pending' order by i.id")]


def reminders_due(db: sqlite_utils.Database) -> list[Invitation]:
    """Invitations sent (or opened) but not answered nor reminded yet."""
    return [_record(Invitation, row) for row in db.query(
        _WITH_CUSTOMER + "where i.status in ('sent', 'opened') and i.reminded_at is null "
        "and not exists (select 1 from survey_responses r where r.invitation_id = i.id) order by i.id")]


def invitation_by_public_id(db: sqlite_utils.Database, public_id: str) -> Invitation | None:
    row = next(iter(db.query(_WITH_CUSTOMER + "where i.public_id = ?", [public_id])), None)
    return _record(Invitation, row) if row else None


def claim_invitation(db: sqlite_utils.Database, invitation_id: int, reminder: bool, owner: str, now: str,
                     until: str) -> bool:
    """Claim an invitation (or its reminder) to mail it, in a write transaction: only if it still needs
    mailing and no other sender holds it (its lease running). Two senders never mail it twice."""
    needs = "status = 'pending'" if not reminder else "status in ('sent', 'opened') and reminded_at is null"
    with db.atomic():
        return db.execute(
            f"update survey_invitations set claimed_by = ?, claimed_until = ? where id = ? and {needs} "
            "and (claimed_until is null or claimed_until < ?)", [owner, until, invitation_id, now]).rowcount == 1


def release_invitations(db: sqlite_utils.Database, owner: str) -> None:
    with db.atomic():
        db.execute("update survey_invitations set claimed_by = null, claimed_until = null where claimed_by = ?",
                   [owner])


_UNCLAIM = "claimed_by = null, claimed_until = null"


def cancel_invitation(db: sqlite_utils.Database, invitation_id: int, reason: str) -> None:
    db.execute(f"update survey_invitations set status = 'cancelled', last_error = ?, {_UNCLAIM} where id = ?",
               [reason, invitation_id])


def invitation_failed(db: sqlite_utils.Database, invitation_id: int, error: str, status: str) -> None:
    """One more attempt, its error, and the status it stays in (or 'failed' for good)."""
    db.execute(f"update survey_invitations set attempts = attempts + 1, last_error = ?, status = ?, {_UNCLAIM} "
               "where id = ?", [error[:500], status, invitation_id])


def invitation_sent(db: sqlite_utils.Database, invitation_id: int, now: str) -> None:
    db.execute(f"update survey_invitations set status = 'sent', sent_at = ?, attempts = attempts + 1, "
               f"last_error = null, {_UNCLAIM} where id = ?", [now, invitation_id])


def invitation_reminded(db: sqlite_utils.Database, invitation_id: int, now: str) -> None:
    db.execute(f"update survey_invitations set reminded_at = ?, {_UNCLAIM} where id = ?", [now, invitation_id])


def note_opened(db: sqlite_utils.Database, invitation_id: int, score: int, now: str) -> None:
    """A link was opened (by a person or a mail scanner): noted, not an answer."""
    db.execute("update survey_invitations set opened_at = coalesce(opened_at, ?), opened_score = ?, "
               "status = case when status = 'sent' then 'opened' else status end where id = ?",
               [now, score, invitation_id])


def use_form_token(db: sqlite_utils.Database, nonce: str, invitation_id: int, now: str) -> bool:
    """Record a form's nonce as used; False if it was already (a replayed form). The caller commits."""
    return db.execute("insert or ignore into survey_form_tokens (nonce, invitation_id, used_at) values (?, ?, ?)",
                      [nonce, invitation_id, now]).rowcount == 1


# ---- answers ---------------------------------------------------------------------------------

def previous_comment(db: sqlite_utils.Database, invitation_id: int) -> str | None:
    row = db.execute("select comment from survey_responses where invitation_id = ?", [invitation_id]).fetchone()
    return row[0] if row else None


def record_answer(db: sqlite_utils.Database, invitation: Invitation, score: int, nps_class: str, comment: str | None,
                  now: str) -> int:
    """Insert or update the invitation's answer (its sentiment cleared, to be scored anew); returns its
    id. The caller holds the transaction."""
    db.execute(
        "insert into survey_responses (invitation_id, customer_id, brand, score, nps_class, comment, channel, "
        "answered_at) values (?, ?, ?, ?, ?, ?, 'web', ?) "
        "on conflict (invitation_id) do update set score = excluded.score, nps_class = excluded.nps_class, "
        "comment = excluded.comment, updated_at = excluded.answered_at, sentiment = null, sentiment_score = null, "
        "p_negative = null, p_neutral = null, p_positive = null, model = null, scored_at = null, "
        "review_candidate = 0",
        [invitation.id, invitation.customer_id, invitation.brand, score, nps_class, comment or None, now])
    db.execute("update survey_invitations set status = 'answered' where id = ?", [invitation.id])
    return db.execute("select id from survey_responses where invitation_id = ?", [invitation.id]).fetchone()[0]


def add_imported_answer(db: sqlite_utils.Database, *, customer_id: int | None, brand: str, score: int, nps_class: str,
                        comment: str | None, external_id: str, answered_at: str, order_ref: str | None = None) -> bool:
    """An answer from another survey tool, once per (source, its id); True if new."""
    return db.execute(
        "insert or ignore into survey_responses (customer_id, brand, score, nps_class, comment, channel, "
        "external_id, answered_at, order_ref) values (?, ?, ?, ?, ?, 'import', ?, ?, ?)",
        [customer_id, brand, score, nps_class, comment, external_id, answered_at, order_ref]).rowcount == 1


@dataclass(frozen=True)
class Answer:
    """A survey answer waiting to be scored."""

    id: int
    brand: str
    score: int
    nps_class: str
    comment: str | None
    customer_id: int | None = None


def unscored(db: sqlite_utils.Database, limit: int = 256) -> list[Answer]:
    return [Answer(**row) for row in db.query("select id, brand, score, nps_class, comment, customer_id "
                                              "from survey_responses where scored_at is null order by id limit ?",
                                              [limit])]


def save_answer_score(db: sqlite_utils.Database, answer_id: int, values: tuple, model: str | None,
                      review_candidate: bool, now: str) -> None:
    """Store a comment's sentiment (label, confidence, P(negative), P(neutral), P(positive)); all None
    for an answer without a comment. Marks the answer scored."""
    db.execute("update survey_responses set sentiment = ?, sentiment_score = ?, p_negative = ?, p_neutral = ?, "
               "p_positive = ?, model = ?, review_candidate = ?, scored_at = ? where id = ?",
               [*values, model, int(review_candidate), now, answer_id])


def mark_scored(db: sqlite_utils.Database, answer_id: int, now: str) -> None:
    db.execute("update survey_responses set scored_at = ? where id = ?", [now, answer_id])


def review_candidates(db: sqlite_utils.Database) -> int:
    return db.execute("select count(*) from survey_responses where review_candidate = 1").fetchone()[0]


@dataclass(frozen=True)
class AnswerFacts:
    """What a detractor answer's alert shows: the score and comment, who, which order, how it came."""

    score: int
    comment: str | None
    name: str | None
    email: str | None
    order_ref: str | None
    channel: str
    answered_at: str | None = None


def answer_facts(db: sqlite_utils.Database, answer_id: int) -> AnswerFacts:
    row = next(iter(db.query(
        "select r.score, r.comment, r.channel, r.answered_at, c.name, c.email, "
        "coalesce(i.order_ref, r.order_ref) as order_ref "
        "from survey_responses r left join customers c on c.id = r.customer_id "
        "left join survey_invitations i on i.id = r.invitation_id where r.id = ?", [answer_id])))
    return _record(AnswerFacts, row)
