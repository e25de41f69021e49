"""Follow-up cases and the labels people give texts (corrections): their rows and queries. The rules of
a case's life (which status may follow which) are ``listener.cases``'."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import sqlite_utils

from .database import in_chunks, marks


@dataclass(frozen=True)
class Case:
    id: int
    kind: str  # "mention" or "response"
    subject_id: str
    brand: str
    owner: str | None
    status: str
    due_at: str | None
    notes: str | None
    created_at: str
    updated_at: str | None


def case_of(row) -> Case:
    return Case(**{f.name: row[f.name] for f in fields(Case)})


def open_case(db: sqlite_utils.Database, kind: str, subject_id: str, brand: str, due_at: str, now: str) -> int:
    """Open the case of a detractor (once per subject); the caller holds the transaction."""
    return db.execute("insert or ignore into cases (kind, subject_id, brand, status, due_at, created_at, updated_at) "
                      "values (?, ?, ?, 'open', ?, ?, ?)", [kind, subject_id, brand, due_at, now, now]).rowcount


def find_case(db: sqlite_utils.Database, case_id: int) -> Case | None:
    row = next(iter(db.query("select * from cases where id = ?", [case_id])), None)
    return case_of(row) if row else None


def cases_of(db: sqlite_utils.Database, subjects: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Case]:
    """The cases of ``(kind, subject id)`` pairs, by pair."""
    found: dict[tuple[str, str], Case] = {}
    for chunk in in_chunks({subject_id for _, subject_id in subjects}):
        for row in db.query(f"select * from cases where subject_id in ({marks(chunk)})", chunk):
            found[(row["kind"], row["subject_id"])] = case_of(row)
    return found


def set_status(db: sqlite_utils.Database, case_id: int, status: str, now: str) -> None:
    db.execute("update cases set status = ?, updated_at = ? where id = ?", [status, now, case_id])


def set_owner(db: sqlite_utils.Database, case_id: int, owner: str, now: str) -> None:
    db.execute("update cases set owner = ?, updated_at = ? where id = ?", [owner, now, case_id])


def append_note(db: sqlite_utils.Database, case_id: int, line: str, now: str) -> None:
    db.execute("update cases set notes = coalesce(notes || char(10), '') || ?, updated_at = ? where id = ?",
               [line, now, case_id])


def list_cases(db: sqlite_utils.Database, *, status: str | None = None, overdue_at: str | None = None,
               brand: str | None = None) -> list[Case]:
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
    return [case_of(row) for row in db.query(sql, args)]


@dataclass(frozen=True)
class Labelled:
    """A text as the model labelled it, for a person's correction."""

    text: str
    sentiment: str | None
    nps_class: str | None


def labelled_text(db: sqlite_utils.Database, kind: str, subject_id: str) -> Labelled | None:
    """The text, sentiment and class of a mention or a survey answer; None if there is no such text."""
    if kind == "mention":
        row = db.execute("select text, sentiment, nps_class from mentions where id = ?", [subject_id]).fetchone()
    else:
        row = db.execute("select comment, sentiment, nps_class from survey_responses where id = ?",
                         [subject_id]).fetchone()
    return Labelled(*row) if row is not None and row[0] else None


def add_correction(db: sqlite_utils.Database, *, kind: str, subject_id: str, text: str, model_label: str, label: str,
                   author: str, now: str, task: str, via: str) -> None:
    """A person's label for a text, kept beside the model's; the caller holds the transaction."""
    db["corrections"].insert({"kind": kind, "subject_id": subject_id, "text": text, "model_label": model_label,
                              "label": label, "author": author, "created_at": now, "task": task, "via": via})
