"""The `runs` table: one row per job run, written when it starts and completed when it ends."""

from __future__ import annotations

import sqlite_utils


def start_run(db: sqlite_utils.Database, job: str, now: str) -> int:
    with db.atomic():
        return db["runs"].insert({"job": job, "started_at": now, "status": "running"}).last_pk


def finish_run(db: sqlite_utils.Database, run_id: int, now: str, status: str, message: str | None = None,
               **counts: int) -> None:
    with db.atomic():
        db["runs"].update(run_id, {"finished_at": now, "status": status, "message": message, **counts})
