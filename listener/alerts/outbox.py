"""The alert outbox: an alert is queued once per subject, with one delivery per channel and target.

An alert is queued in the same transaction as what it is about (a detractor mention or answer, a
spike, a spent budget, the weekly digest), so it exists exactly when its subject does. Its
deliveries are written with it, one per route (``listener.alerts.routing``); ``dispatch`` sends them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlite_utils

from .routing import Route

# The kinds of alert; `subject` makes an alert unique within its kind.
DETRACTOR_ALERT = "detractor_mention"  # subject: the mention id
RESPONSE_ALERT = "detractor_response"  # subject: "response:<id>"
SPIKE_ALERT = "spike"  # subject: "spike:<brand>:<hour>"
NEAR_MISSES_ALERT = "near_misses"  # the day's mentions just under the alert threshold: "near:<brand>:<day>"
NOTICE_ALERT = "notice"  # an operational notice, e.g. "x:x:budget:2026-11"; its text is written when queued
DIGEST_ALERT = "digest"  # the weekly digest, "digest:2026-W48"


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
