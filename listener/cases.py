"""Close the loop: every detractor has a case, followed from open to resolved (or lost).

Transitions: open -> contacted -> resolved | lost, and open -> resolved | lost directly; open or
contacted -> dismissed when the alert was wrong ("not a complaint"). Resolved, lost and dismissed
are final. Notes accumulate with their time and author; nothing is ever overwritten.
"""

from __future__ import annotations

import sqlite_utils

from listener.kernel.errors import AscoltoError

STATUSES = ("open", "contacted", "resolved", "lost", "dismissed")
NEXT = {"open": {"contacted", "resolved", "lost", "dismissed"}, "contacted": {"resolved", "lost", "dismissed"},
        "resolved": set(), "lost": set(), "dismissed": set()}
TASK_LABELS = {"sentiment": ("negative", "neutral", "positive"), "detector": ("unhappy", "other")}


class CaseError(AscoltoError):
    """A case that does not exist, or a transition that is not allowed."""


def open_case(db: sqlite_utils.Database, kind: str, subject_id: str, brand: str, due_at: str, now: str) -> int:
    """Open the case of a detractor (once per subject); the caller holds the transaction."""
    return db.execute("insert or ignore into cases (kind, subject_id, brand, status, due_at, created_at, updated_at) "
                      "values (?, ?, ?, 'open', ?, ?, ?)", [kind, subject_id, brand, due_at, now, now]).rowcount


def get_case(db: sqlite_utils.Database, case_id: int) -> dict:
    row = next(iter(db.query("select * from cases where id = ?", [case_id])), None)
    if row is None:
        raise CaseError(f"no case #{case_id}")
    return row


def move(db: sqlite_utils.Database, case_id: int, status: str, now: str) -> dict:
    case = get_case(db, case_id)
    if status not in NEXT[case["status"]]:
        allowed = ", ".join(sorted(NEXT[case["status"]])) or "nothing (it is closed)"
        raise CaseError(f"case #{case_id} is {case['status']}: it can move to {allowed}, not {status}")
    with db.atomic():
        db.execute("update cases set status = ?, updated_at = ? where id = ?", [status, now, case_id])
    return get_case(db, case_id)


def assign(db: sqlite_utils.Database, case_id: int, owner: str, now: str) -> dict:
    case = get_case(db, case_id)
    if not NEXT[case["status"]]:
        raise CaseError(f"case #{case_id} is {case['status']}: closed cases are not reassigned")
    with db.atomic():
        db.execute("update cases set owner = ?, updated_at = ? where id = ?", [owner, now, case_id])
    return get_case(db, case_id)


def add_note(db: sqlite_utils.Database, case_id: int, text: str, author: str, now: str) -> dict:
    get_case(db, case_id)
    line = f"[{now}] {author}: {' '.join(text.split())}"
    with db.atomic():
        db.execute("update cases set notes = coalesce(notes || char(10), '') || ?, updated_at = ? where id = ?",
                   [line, now, case_id])
    return get_case(db, case_id)


def list_cases(db: sqlite_utils.Database, *, status: str | None = None, overdue_at: str | None = None,
               brand: str | None = None) -> list[dict]:
    where, args = [], []
    if status:
        where.append("status = ?")
        args.append(status)
    if overdue_at:
        where.append("status in ('open', 'contacted') and due_at < ?")
        args.append(overdue_at)
    if brand:
        where.append("brand = ?")
        args.append(brand)
    sql = "select * from cases" + (" where " + " and ".join(where) if where else "") + " order by due_at, id"
    return list(db.query(sql, args))


def correct_label(db: sqlite_utils.Database, kind: str, subject_id: str, label: str, author: str, now: str, *,
                  task: str = "sentiment", via: str = "cli") -> dict:
    """Store a person's label for a mention or a survey comment, beside the model's (which stays as it
    was): a sentiment (negative, neutral, positive) or the detector's (unhappy, other)."""
    if label not in TASK_LABELS[task]:
        raise CaseError(f"label {label!r}: expected {' or '.join(TASK_LABELS[task])}")
    if kind == "mention":
        row = db.execute("select text, sentiment, nps_class from mentions where id = ?", [subject_id]).fetchone()
    else:
        row = db.execute("select comment, sentiment, nps_class from survey_responses where id = ?",
                         [subject_id]).fetchone()
    if row is None or not row[0]:
        raise CaseError(f"no {kind} {subject_id!r} with a text to label")
    model_label = row[1] if task == "sentiment" else ("unhappy" if row[2] == "detractor" else "other")
    with db.atomic():
        db["corrections"].insert({"kind": kind, "subject_id": subject_id, "text": row[0], "model_label": model_label,
                                  "label": label, "author": author, "created_at": now, "task": task, "via": via})
    return {"text": row[0], "model_label": model_label, "label": label}
