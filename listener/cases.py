"""Close the loop: every detractor has a case, followed from open to resolved (or lost).

Transitions: open -> contacted -> resolved | lost, and open -> resolved | lost directly; open or
contacted -> dismissed when the alert was wrong ("not a complaint"). Resolved, lost and dismissed
are final. Notes accumulate with their time and author; nothing is ever overwritten. The rows live
in ``listener.store.cases``.
"""

from __future__ import annotations

import sqlite_utils

from listener.kernel.errors import AscoltoError
from listener.kernel.i18n import N_
from listener.store import cases as store
from listener.store.cases import Case
from sentiment.runtime.labels import LABELS, UNHAPPY_LABELS

STATUSES = ("open", "contacted", "resolved", "lost", "dismissed")
NEXT = {"open": {"contacted", "resolved", "lost", "dismissed"}, "contacted": {"resolved", "lost", "dismissed"},
        "resolved": set(), "lost": set(), "dismissed": set()}
TASK_LABELS = {"sentiment": LABELS, "detector": UNHAPPY_LABELS}


# What people read for each status, translated where shown (pages, emails).
STATUS_NAMES = {"open": N_("open"), "contacted": N_("contacted"), "resolved": N_("resolved"), "lost": N_("lost"),
                "dismissed": N_("dismissed")}
# The steps of a case's history (case_events.event), as the pages show them.
EVENT_NAMES = {**STATUS_NAMES, "opened": N_("opened"), "taken": N_("taken"), "note": N_("note"),
               "replied": N_("replied"), "joined": N_("another message joined")}


class CaseError(AscoltoError):
    """A case that does not exist, or a transition that is not allowed (then ``status``, the case's
    status, and ``wanted``, the refused one, let a page say it in its reader's language)."""

    def __init__(self, message: str, case_id: int | None = None, status: str | None = None,
                 wanted: str | None = None):
        super().__init__(message)
        self.case_id, self.status, self.wanted = case_id, status, wanted


def get_case(db: sqlite_utils.Database, case_id: int) -> Case:
    case = store.find_case(db, case_id)
    if case is None:
        raise CaseError(f"no case #{case_id}")
    return case


def move(db: sqlite_utils.Database, case_id: int, status: str, now: str, who: str | None = None) -> Case:
    case = get_case(db, case_id)
    if status not in NEXT[case.status]:
        allowed = ", ".join(sorted(NEXT[case.status])) or "nothing (it is closed)"
        raise CaseError(f"case #{case_id} is {case.status}: it can move to {allowed}, not {status}", case_id,
                        case.status, status)
    with db.atomic():
        store.set_status(db, case_id, status, now, who)
    return get_case(db, case_id)


def assign(db: sqlite_utils.Database, case_id: int, owner: str, now: str) -> Case:
    case = get_case(db, case_id)
    if not NEXT[case.status]:
        raise CaseError(f"case #{case_id} is {case.status}: closed cases are not reassigned")
    with db.atomic():
        store.set_owner(db, case_id, owner, now)
    return get_case(db, case_id)


def add_note(db: sqlite_utils.Database, case_id: int, text: str, author: str, now: str) -> Case:
    get_case(db, case_id)
    with db.atomic():
        store.append_note(db, case_id, f"[{now}] {author}: {' '.join(text.split())}", now, author, text)
    return get_case(db, case_id)


def correct_label(db: sqlite_utils.Database, kind: str, subject_id: str, label: str, author: str, now: str, *,
                  task: str = "sentiment", via: str = "cli") -> dict:
    """Store a person's label for a mention or a survey comment, beside the model's (which stays as it
    was): a sentiment (negative, neutral, positive) or the detector's (unhappy, other)."""
    if label not in TASK_LABELS[task]:
        raise CaseError(f"label {label!r}: expected {' or '.join(TASK_LABELS[task])}")
    found = store.labelled_text(db, kind, subject_id)
    if found is None:
        raise CaseError(f"no {kind} {subject_id!r} with a text to label")
    model_label = found.sentiment if task == "sentiment" else ("unhappy" if found.nps_class == "detractor" else "other")
    with db.atomic():
        store.add_correction(db, kind=kind, subject_id=subject_id, text=found.text, model_label=model_label,
                             label=label, author=author, now=now, task=task, via=via)
    return {"text": found.text, "model_label": model_label, "label": label}
