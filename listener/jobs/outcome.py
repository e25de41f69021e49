"""What a job run says: its summary lines (``run --once`` prints them, the scheduler logs them) and,
for a source that failed (not one merely not set up yet), why."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    lines: list[str] = field(default_factory=list)
    failure: str | None = None  # ``run --once`` exits 1 after its summary
