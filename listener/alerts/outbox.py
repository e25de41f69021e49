"""The alert outbox: queue an alert once per subject, send what is due, retry with back-off, never twice.

An alert is queued in the same transaction as what it is about (a detractor mention or answer, a
spent budget, the weekly digest), so it exists exactly when its subject does. An alert is marked sent in its own commit right after the server accepts it. Transient failures
(server down, 4xx) push the next attempt back, doubling up to a cap, for as long as it takes: an
outage delays alerts, it never drops them. Permanent failures (5xx) stop retrying and stay visible
as 'failed' with the server's reply.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from surveys.delivery import PermanentDeliveryError, TransientDeliveryError
from surveys.timestamps import iso

from ..settings import Alerts, Brand
from .messages import detractor_email, notice_email, response_email

log = logging.getLogger(__name__)

# The kinds of alert; `subject` makes an alert unique within its kind.
DETRACTOR_ALERT = "detractor_mention"  # subject: the mention id
RESPONSE_ALERT = "detractor_response"  # subject: "response:<id>"
NOTICE_ALERT = "notice"  # an operational notice, e.g. "x:budget:2026-11"; its text is written when queued
DIGEST_ALERT = "digest"  # the weekly digest, "digest:2026-W48"


def enqueue(db: sqlite_utils.Database, kind: str, subject: str, recipients: Iterable[str], now: str, *,
            mention_id: str | None = None, brand: str | None = None, details: dict | None = None) -> int:
    """Queue an alert once per (kind, subject); returns 1 if queued now, 0 if it already was.
    The caller holds the transaction."""
    return db.execute(
        "insert or ignore into alerts (kind, subject, mention_id, brand, recipients, details, status, attempts, "
        "next_attempt_at, created_at) values (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
        [kind, subject, mention_id, brand, json.dumps(list(recipients)),
         json.dumps(details, ensure_ascii=False) if details else None, now, now],
    ).rowcount


@dataclass
class Dispatch:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    pending: int = 0  # still in the outbox after this run
    smtp_configured: bool = True
    error: str | None = None  # the last transient error, for the summary line


def pending_count(db: sqlite_utils.Database) -> int:
    return db.execute("select count(*) from alerts where status = 'pending'").fetchone()[0]


def due_alerts(db: sqlite_utils.Database, now: str) -> list[tuple[dict, dict]]:
    alerts = list(db.query(
        "select * from alerts where status = 'pending' and next_attempt_at <= ? order by id", [now]))
    pairs = []
    for alert in alerts:
        alert["recipients"] = json.loads(alert["recipients"] or "[]")
        alert["details"] = json.loads(alert["details"] or "{}")
        mention = db["mentions"].get(alert["mention_id"]) if alert["mention_id"] else None
        pairs.append((alert, mention))
    return pairs


def compose(alert: dict, mention: dict | None, settings: Alerts, brands: Mapping[str, Brand], threshold: float):
    if mention is not None:
        return detractor_email(alert, mention, brands[alert["brand"]], settings.sender, threshold)
    if alert["kind"] == RESPONSE_ALERT:
        return response_email(alert, brands[alert["brand"]], settings.sender)
    return notice_email(alert, settings.sender)


def backoff(attempts: int, settings: Alerts) -> timedelta:
    return timedelta(seconds=min(settings.retry_seconds * 2 ** max(attempts - 1, 0), settings.max_retry_seconds))


def _mark_sent(db, alert: dict, message_id: str, now: str) -> None:
    with db.atomic():
        db.execute("update alerts set status = 'sent', attempts = attempts + 1, sent_at = ?, "
                   "message_id = ?, last_error = null where id = ?", [now, message_id, alert["id"]])


def _mark_failure(db, alert: dict, error: Exception, now: datetime, settings: Alerts) -> None:
    attempts = alert["attempts"] + 1
    permanent = isinstance(error, PermanentDeliveryError)
    with db.atomic():
        db.execute("update alerts set status = ?, attempts = ?, last_error = ?, next_attempt_at = ? where id = ?",
                   ["failed" if permanent else "pending", attempts, str(error)[:500],
                    iso(now + backoff(attempts, settings)), alert["id"]])


def dispatch(db: sqlite_utils.Database, settings: Alerts, brands: Mapping[str, Brand], threshold: float,
             mailer, now: datetime) -> Dispatch:
    """Send every due alert through ``mailer`` (None when SMTP is not configured)."""
    if mailer is None:
        return Dispatch(pending=pending_count(db), smtp_configured=False)
    result = Dispatch()
    due = due_alerts(db, iso(now))
    if due:
        _send_all(db, due, settings, brands, threshold, mailer, now, result)
    result.pending = pending_count(db)
    return result


def _send_all(db, due, settings, brands, threshold, mailer, now, result: Dispatch) -> None:
    try:
        with mailer.session() as send:
            for index, (alert, mention) in enumerate(due):
                message = compose(alert, mention, settings, brands, threshold)
                try:
                    send(message)
                except PermanentDeliveryError as exc:
                    _record(db, alert, exc, now, settings, result)
                    continue
                except TransientDeliveryError as exc:
                    # The session is likely gone: every alert left waits for the next run.
                    for rest, _ in due[index:]:
                        _record(db, rest, exc, now, settings, result)
                    return
                _mark_sent(db, alert, message["Message-ID"], iso(now))
                result.sent += 1
    except TransientDeliveryError as exc:  # could not connect or log in: nothing was sent
        for alert, _ in due:
            _record(db, alert, exc, now, settings, result)
    except PermanentDeliveryError as exc:  # e.g. login refused: a setting to fix, not a reason to drop alerts
        for alert, _ in due:
            _record(db, alert, TransientDeliveryError(str(exc)), now, settings, result)


def _record(db, alert: dict, exc: Exception, now: datetime, settings: Alerts, result: Dispatch) -> None:
    _mark_failure(db, alert, exc, now, settings)
    if isinstance(exc, PermanentDeliveryError):
        result.failed += 1
        log.error("alert %s failed for good: %s", alert["id"], exc)
    else:
        result.retrying += 1
        result.error = str(exc)
        log.warning("alert %s not sent, will retry: %s", alert["id"], exc)
