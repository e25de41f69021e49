"""The weekly digest to marketers: the report, its charts and the overdue cases, as one message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from listener.store.cases import Case

from .figures import BrandReport, Period
from .page import html_report, text_report


@dataclass(frozen=True)
class Digest:
    title: str
    body: str  # plain text
    html: str


def overdue_line(case: Case) -> str:
    return f"#{case.id} {case.brand} {case.kind} {case.subject_id} due {case.due_at} ({case.status}, " \
           f"owner {case.owner or 'nobody'})"


def digest(reports: Sequence[BrandReport], overdue: Sequence[Case], period: Period) -> Digest:
    lines = [overdue_line(case) for case in overdue]
    title = f"Ascolto weekly digest, {period.start:%d %b} to {period.end:%d %b %Y}"
    body = "\n\n".join(text_report(r) for r in reports)
    body += "\n\nOverdue cases:\n" + ("\n".join(lines) if lines else "none")
    return Digest(title, body, html_report(reports, title, overdue=lines))
