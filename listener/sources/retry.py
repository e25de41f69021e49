"""Retrying calls that fail for passing reasons (5xx, network), with doubling delays."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def call_with_retries(call: Callable[[], T], *, transient: tuple[type[BaseException], ...], what: str,
                      attempts: int = 3, base_delay: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``; on a transient error wait 2 s, 4 s, ... and try again, ``attempts`` times in all."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except transient as exc:
            if attempt == attempts:
                raise
            delay = base_delay * 2 ** (attempt - 1)
            log.warning("%s failed (%s); retry %d of %d in %.0f s", what, _one_line(exc), attempt, attempts - 1, delay)
            sleep(delay)
    raise RuntimeError("attempts must be at least 1")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
