"""The ``runs`` table: one row per job run, written when it starts and completed when it ends.

A run records the process that runs it. A crash or a kill leaves its row 'running'; the next run
started on the same host marks such rows 'interrupted', so Datasette and `ascolto sources` never
show a run that no process is doing.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import sqlite_utils

INTERRUPTED = "the process ended before the run finished (a crash, a kill or a power cut)"


def start_run(db: sqlite_utils.Database, job: str, now: str) -> int:
    with db.atomic():
        mark_interrupted(db, now)
        return db["runs"].insert({"job": job, "started_at": now, "status": "running", "pid": os.getpid(),
                                  "host": socket.gethostname()}).last_pk


def finish_run(db: sqlite_utils.Database, run_id: int, now: str, status: str, message: str | None = None,
               **counts: int) -> None:
    with db.atomic():
        db["runs"].update(run_id, {"finished_at": now, "status": status, "message": message, **counts})


def mark_interrupted(db: sqlite_utils.Database, now: str) -> int:
    """Runs left 'running' by a process of this host that no longer exists become 'interrupted'."""
    stale = [row[0] for row in db.execute("select id, pid from runs where status = 'running' and host = ?",
                                          [socket.gethostname()]) if not _alive(row[1])]
    for run_id in stale:
        db["runs"].update(run_id, {"status": "interrupted", "finished_at": now, "message": INTERRUPTED})
    return len(stale)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True


@dataclass(frozen=True)
class LastRun:
    started_at: str
    status: str
    message: str | None


def last_run(db: sqlite_utils.Database, job: str) -> LastRun | None:
    row = next(iter(db.query("select started_at, status, message from runs where job = ? order by id desc limit 1",
                             [job])), None)
    return LastRun(**row) if row else None
