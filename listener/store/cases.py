"""Follow-up cases and the labels people give texts (corrections): their rows and queries. The rules of
a case's life (which status may follow which) are ``listener.cases``'."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import sqlite_utils

from .database import in_chunks, marks, where


@dataclass(frozen=True)
class Case:
    id: int
    kind: str  # "mention" or "response": what the case was opened for
    subject_id: str
    brand: str
    owner: str | None
    status: str
    due_at: str | None
    notes: str | None
    created_at: str
    updated_at: str | None
    person: str | None = None  # who it is about: "x:giulia_rm", "customer:12"


@dataclass(frozen=True)
class Event:
    """A step in a case's life: opened, taken, contacted, replied, noted, resolved, lost, dismissed."""

    at: str
    who: str | None
    event: str
    detail: str | None


def case_of(row) -> Case:
    return Case(**{f.name: row[f.name] for f in fields(Case)})


def open_case(db: sqlite_utils.Database, kind: str, subject_id: str, brand: str, due_at: str, now: str,
              person: str | None = None, window_start: str | None = None) -> int:
    """The case of a detractor: once per text; and one per person per grouping window, so that a
    customer who writes three times in half an hour has one case (``person`` and the window's
    start). Returns 1 if a case was opened now. The caller holds the transaction."""
    if db.execute("select 1 from case_subjects where kind = ? and subject_id = ?", [kind, subject_id]).fetchone():
        return 0
    if person and window_start:
        current = db.execute("select id from cases where brand = ? and person = ? and status in ('open', 'contacted') "
                             "and created_at >= ? order by id desc limit 1", [brand, person, window_start]).fetchone()
        if current:
            db.execute("insert into case_subjects (case_id, kind, subject_id) values (?, ?, ?)",
                       [current[0], kind, subject_id])
            add_event(db, current[0], now, "ascolto", "joined", f"{kind} {subject_id}")
            return 0
    opened = db.execute("insert or ignore into cases (kind, subject_id, brand, status, due_at, created_at, updated_at, "
                        "person) values (?, ?, ?, 'open', ?, ?, ?, ?)",
                        [kind, subject_id, brand, due_at, now, now, person])
    if not opened.rowcount:
        return 0
    db.execute("insert into case_subjects (case_id, kind, subject_id) values (?, ?, ?)",
               [opened.lastrowid, kind, subject_id])
    add_event(db, opened.lastrowid, now, "ascolto", "opened")
    return 1


def add_event(db: sqlite_utils.Database, case_id: int, at: str, who: str | None, event: str,
              detail: str | None = None) -> None:
    db.execute("insert into case_events (case_id, at, who, event, detail) values (?, ?, ?, ?, ?)",
               [case_id, at, who, event, detail])


def history(db: sqlite_utils.Database, case_id: int) -> list[Event]:
    return [Event(**row) for row in db.query("select at, who, event, detail from case_events where case_id = ? "
                                             "order by at, id", [case_id])]


def find_case(db: sqlite_utils.Database, case_id: int) -> Case | None:
    row = next(iter(db.query("select * from cases where id = ?", [case_id])), None)
    return case_of(row) if row else None


def cases_of(db: sqlite_utils.Database, subjects: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Case]:
    """The cases of ``(kind, subject id)`` pairs, by pair (a case may hold several texts)."""
    wanted = {(kind, str(subject_id)) for kind, subject_id in subjects}
    found: dict[tuple[str, str], Case] = {}
    for chunk in in_chunks({subject_id for _, subject_id in wanted}):
        for row in db.query(f"select s.kind as subject_kind, s.subject_id as the_subject, c.* from case_subjects s "
                            f"join cases c on c.id = s.case_id where s.subject_id in ({marks(chunk)})", chunk):
            key = (row["subject_kind"], row["the_subject"])
            if key in wanted:
                found[key] = case_of(row)
    return found


def set_status(db: sqlite_utils.Database, case_id: int, status: str, now: str, who: str | None = None) -> None:
    db.execute("update cases set status = ?, updated_at = ? where id = ?", [status, now, case_id])
    add_event(db, case_id, now, who, status)


def set_owner(db: sqlite_utils.Database, case_id: int, owner: str, now: str) -> None:
    db.execute("update cases set owner = ?, updated_at = ? where id = ?", [owner, now, case_id])
    add_event(db, case_id, now, owner, "taken")


def append_note(db: sqlite_utils.Database, case_id: int, line: str, now: str, who: str | None = None,
                text: str | None = None) -> None:
    db.execute("update cases set notes = coalesce(notes || char(10), '') || ?, updated_at = ? where id = ?",
               [line, now, case_id])
    add_event(db, case_id, now, who, "note", text)


@dataclass(frozen=True)
class Listed:
    """A case as `ascolto cases list` shows it: who it is about and what they wrote."""

    case: Case
    who: str | None
    text: str | None


def list_cases(db: sqlite_utils.Database, *, status: str | None = None, overdue_at: str | None = None,
               brand: str | None = None) -> list[Listed]:
    filters, args = where(("k.status = ?", status), ("k.status in ('open', 'contacted') and k.due_at < ?", overdue_at),
                          ("k.brand = ?", brand))
    sql = ("select k.*, coalesce(m.author, c.name, c.email) as who, coalesce(m.text, r.comment) as text "
           "from cases k left join mentions m on k.kind = 'mention' and m.id = k.subject_id "
           "left join survey_responses r on k.kind = 'response' and r.id = k.subject_id "
           "left join customers c on c.id = r.customer_id"
           + filters + " order by k.due_at, k.id")
    listed = []
    for row in db.query(sql, args):
        who, text = row.pop("who"), row.pop("text")
        listed.append(Listed(case_of(row), who, text))
    return listed


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
