"""A clock the test moves by hand: no sleeps, no real time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest


class Clock:
    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))
