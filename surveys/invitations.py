"""Invitations out: decide who is due under the contact policy, create the invitation, send it.

Deciding and sending are separate steps. An invitation row is created (``pending``) in the same
transaction that marks the customer as surveyed, then the send loop mails every pending invitation
the clock allows and marks it ``sent``. An SMTP failure leaves it pending for the next run; a
decision that waiting cannot change (no legal basis, unsubscribed, surveyed recently) is recorded
as ``skipped`` with its reason, so Datasette shows why a customer was not asked.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from listener.kernel.delivery import DeliveryError
from listener.kernel.hours import local_day_start
from listener.kernel.times import iso, parse_timestamp
from listener.store import surveys as store

from .emails import invitation_email
from .links import score_link, unsubscribe_link
from .policy import may_invite, may_remind, may_send_now
from .settings import SurveySettings

log = logging.getLogger(__name__)


@dataclass
class InvitationCounts:
    created: int = 0
    sent: int = 0
    reminded: int = 0
    skipped: int = 0  # refused for good by the policy
    waiting: int = 0  # not yet: too early, quiet hours, daily cap, or SMTP failure
    error: str | None = None


def sent_today(db: sqlite_utils.Database, brand: str, now: datetime, zone: ZoneInfo) -> int:
    return store.sent_since(db, brand, iso(local_day_start(now, zone)))


def plan(db: sqlite_utils.Database, settings: SurveySettings, zones: Mapping[str, ZoneInfo], now: datetime,
         counts: InvitationCounts) -> None:
    """Create a pending invitation for every order the policy allows now; record final refusals.

    One query reads the orders with their customers; the day's counts are read once per brand and
    kept up to date here, so planning is linear in the number of orders."""
    orders = store.orders_to_invite(db)
    today: dict[str, int] = {}  # invitations sent, reminded or pending today, per brand
    surveyed: dict[int, datetime | None] = {}  # last survey per customer, as this run changes it
    for order in orders:
        brand, zone, customer = order.brand, zones[order.brand], order.customer_id
        if brand not in today:
            today[brand] = sent_today(db, brand, now, zone) + store.pending_count(db, brand)
        if customer not in surveyed:
            last = order.last_surveyed_at
            surveyed[customer] = parse_timestamp(last) if last else None
        decision = may_invite(
            legal_basis=order.legal_basis, unsubscribed=order.unsubscribed_at is not None,
            purchased_at=parse_timestamp(order.purchased_at), last_surveyed_at=surveyed[customer],
            sent_today=today[brand], now=now, zone=zone, policy=settings.policy)
        if decision.send or decision.final:
            with db.atomic():
                if _taken(db, order, surveyed[customer]):  # another process got there first
                    counts.waiting += 1
                    continue
                _create(db, order, settings, now, "pending" if decision.send else "skipped",
                        None if decision.send else decision.reason)
            counts.created += decision.send
            counts.skipped += not decision.send
            if decision.send:
                today[brand] += 1
                surveyed[customer] = now
        else:
            counts.waiting += 1


def _taken(db, order: store.OrderToInvite, last_surveyed: datetime | None) -> bool:
    """Inside the write transaction: has another process invited for this order, or surveyed this
    customer, since the orders were read? (Then this run leaves it, and the next decides afresh.)"""
    invited, last = store.invited_or_surveyed(db, order.order_ref, order.customer_id)
    return invited or (parse_timestamp(last) if last else None) != last_surveyed


def _create(db, order: store.OrderToInvite, settings: SurveySettings, now: datetime, status: str,
            reason: str | None) -> None:
    store.create_invitation(db, public_id=secrets.token_urlsafe(12), order=order, status=status, now=iso(now),
                            expires_at=iso(now + timedelta(days=settings.policy.link_valid_days)), reason=reason)


def _message(row: store.Invitation, settings: SurveySettings, secret: bytes, reminder: bool):
    expires, created = parse_timestamp(row.expires_at), parse_timestamp(row.created_at)
    links = [score_link(settings, secret, row.public_id, score, expires) for score in range(11)]
    return invitation_email(
        lang=row.lang, brand=row.brand, order_ref=row.order_ref, name=row.name, to=row.email,
        sender=settings.sender, score_links=links,
        unsubscribe=unsubscribe_link(settings, secret, row.public_id, created), reminder=reminder,
        message_id=f"<survey.{row.public_id}{'.reminder' if reminder else ''}@{settings.sender.rpartition('@')[2]}>")


LEASE = timedelta(minutes=10)  # how long a sender's claim on an invitation holds


@dataclass(frozen=True)
class Sender:
    """One run of the survey sender: who it is (its claims' owner) and when it runs."""

    owner: str
    now: datetime

    def claim(self, db, row: store.Invitation, reminder: bool) -> bool:
        return store.claim_invitation(db, row.id, reminder, self.owner, iso(self.now), iso(self.now + LEASE))


def send(db: sqlite_utils.Database, settings: SurveySettings, zones: Mapping[str, ZoneInfo], mailer,
         now: datetime, counts: InvitationCounts) -> None:
    """Mail the pending invitations and the due reminders that quiet hours and the cap allow, each
    claimed first: several senders at once never mail one twice."""
    secret = settings.secret()
    work = [(row, False) for row in store.pending_invitations(db)] + [(row, True) for row in store.reminders_due(db)]
    if not work:
        return
    sender = Sender(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", now)
    try:
        with mailer.session() as deliver:
            for row, reminder in work:
                if not _send_one(db, row, reminder, settings, secret, zones, deliver, sender, counts):
                    return
    except DeliveryError as exc:  # the session could not start: everything waits for the next run
        counts.error = str(exc)
        counts.waiting += len(work)
    finally:
        store.release_invitations(db, sender.owner)


def _send_one(db, row, reminder: bool, settings, secret, zones, deliver, sender: Sender, counts) -> bool:
    """Send one invitation or reminder if allowed now; False when the SMTP session has failed."""
    now = sender.now
    zone = zones[row.brand]
    today = sent_today(db, row.brand, now, zone)
    if reminder:
        decision = may_remind(unsubscribed=row.unsubscribed_at is not None, answered=False, reminded=False,
                              sent_at=parse_timestamp(row.sent_at), expires_at=parse_timestamp(row.expires_at),
                              sent_today=today, now=now, zone=zone, policy=settings.policy)
    else:
        decision = may_send_now(today, now, zone, settings.policy)
        if row.unsubscribed_at is not None:
            with db.atomic():
                store.cancel_invitation(db, row.id, "unsubscribed")
            return True
    if not decision.send:
        counts.waiting += not decision.final
        return True
    if not sender.claim(db, row, reminder):
        return True  # another sender has it, or has mailed it since this run read the list
    try:
        message = _message(row, settings, secret, reminder)
    except (ValueError, TypeError, KeyError) as exc:  # a bad row fails alone; the others go out
        log.error("invitation %s cannot be built: %s", row.id, exc)
        with db.atomic():
            store.invitation_failed(db, row.id, f"cannot build the email: {type(exc).__name__}: {exc}", "failed")
        counts.skipped += 1
        return True
    try:
        deliver(message)
    except DeliveryError as exc:
        with db.atomic():
            store.invitation_failed(db, row.id, str(exc), "failed" if exc.permanent else row.status)
        counts.error = str(exc)
        counts.waiting += not exc.permanent
        return not exc.channel_down  # a refused address: go on; a broken session: stop
    with db.atomic():
        if reminder:
            store.invitation_reminded(db, row.id, iso(now))
        else:
            store.invitation_sent(db, row.id, iso(now))
    counts.reminded += reminder
    counts.sent += not reminder
    return True


def run(db: sqlite_utils.Database, settings: SurveySettings, zones: Mapping[str, ZoneInfo], mailer,
        now: datetime) -> InvitationCounts:
    counts = InvitationCounts()
    plan(db, settings, zones, now, counts)
    if mailer is None:
        counts.error = "SMTP not configured: invitations wait"
    else:
        send(db, settings, zones, mailer, now, counts)
    return counts
