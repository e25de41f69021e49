"""Purchases in: rows from a CSV export or the shop's HTTP call become customers and orders.

``order_from_row`` is pure; ``save_order`` writes, idempotently (an order is keyed by its ref).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from listener.kernel.textfiles import csv_rows, one_line, open_lines
from listener.kernel.times import iso, parse_timestamp
from listener.store import surveys as store

from .errors import BadRow, SurveyError
from .policy import LEGAL_BASES

LANGUAGES = ("it", "en")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


@dataclass(frozen=True)
class Order:
    order_ref: str
    email: str
    name: str | None
    lang: str
    purchased_at: str  # UTC ISO
    legal_basis: str | None
    brand: str


def order_from_row(row: Mapping, brands: Sequence[str]) -> Order:
    """An order from a CSV row or the shop's JSON; names are made header-safe (they go into the
    invitation's To:), text that cannot be stored is refused."""
    def text(name: str, required: bool = True) -> str | None:
        value = row.get(name)
        value = one_line(value) if isinstance(value, str) else value
        if required and not value:
            raise BadRow(f"missing {name}")
        if value is not None and not isinstance(value, str):
            raise BadRow(f"{name} must be text")
        return value or None

    ref, email = text("order_ref"), text("email").lower()
    if not _EMAIL.match(email) or len(email) > 254 or "\ufffd" in email:
        raise BadRow(f"email {email!r} is not an address")
    lang = (text("language", required=False) or "it").lower()[:2]
    if lang not in LANGUAGES:
        raise BadRow(f"language {lang!r}: expected it or en")
    try:
        purchased_at = iso(parse_timestamp(text("purchased_at")))
    except ValueError as exc:
        raise BadRow(f"purchased_at: {exc}") from None
    basis = text("legal_basis", required=False)
    if basis is not None and basis not in LEGAL_BASES:
        raise BadRow(f"legal_basis {basis!r}: expected {' or '.join(LEGAL_BASES)}, or empty (no survey)")
    brand = text("brand", required=False) or brands[0]
    if brand not in brands:
        raise BadRow(f"brand {brand!r} is not configured")
    return Order(ref, email, text("name", required=False), lang, purchased_at, basis, brand)


def read_csv(path: Path) -> Iterator[tuple[int, dict | BadRow]]:
    """(line number, row) per CSV row, or (line number, BadRow) for a row that cannot be read: bytes
    that are not UTF-8, a NUL byte. UTF-8 (with or without BOM), UTF-16 and legacy Windows files."""
    try:
        lines, _encoding = open_lines(Path(path))
    except OSError as exc:
        raise SurveyError(f"cannot read {path}: {exc.strerror}") from None
    for line, row, problem in csv_rows(lines):
        yield line, BadRow(problem) if problem else row


def save_order(db: sqlite_utils.Database, order: Order, now: str, channel: str) -> bool:
    """Upsert the customer, insert the order if new; True if the order is new. The caller commits."""
    customer_id = store.upsert_customer(db, order.email, order.name, order.lang, order.legal_basis, now)
    return store.add_order(db, order.order_ref, order.brand, customer_id, order.purchased_at, now, channel)
