"""Signed, expiring tokens for every link Ascolto sends (survey answers, unsubscribe, the forms of its
pages, alert actions): itsdangerous' URL-safe serializer, HMAC-SHA256 with a secret from the
environment.

A token says what the link does (its ``kind``: ``s`` answer with a score, ``u`` unsubscribe, ``f`` one
submitted form, ``a`` an alert action, ``af`` an action's form), whose it is (a random public id, or a
delivery id), a value (the score, a nonce, an action) and when it expires (Unix time, in the
payload: each kind of link lives as long as it should, whatever the configuration says later).
Anyone can read a payload; nobody without the secret can make or change one. A token is accepted
only in the exact form we write it (a copy with ``=`` appended, or any other re-encoding of the
same bytes, is another URL and is refused). Links sent before 2026-12 used a hand-written format;
those are read until the last of them expires (unsubscribe links live two years: ``LEGACY_UNTIL``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

from itsdangerous import BadData, URLSafeSerializer

SALT = "ascolto-links"
LEGACY_UNTIL = datetime(2028, 12, 31, tzinfo=timezone.utc)  # the last hand-written link expires before this


class TokenError(ValueError):
    """The token is malformed, forged or tampered with."""


class TokenExpired(TokenError):
    """The token is genuine but its time is over."""


@dataclass(frozen=True)
class Token:
    kind: str  # "s" survey answer, "u" unsubscribe, "f" form submission, "a"/"af" alert action and its form
    public_id: str
    value: str  # the score for "s", a nonce for "f", "" for "u"
    expires: int  # Unix time


def _serializer(secret: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def sign(token: Token, secret: bytes) -> str:
    return _serializer(secret).dumps([token.kind, token.public_id, token.value, token.expires])


def verify(text: str, secret: bytes, now: datetime, kind: str) -> Token:
    """The token, if genuine, in its canonical form, of the expected kind and not expired; else
    TokenError / TokenExpired."""
    token = _read(text, secret) or _read_legacy(text, secret, now)
    if token is None:
        raise TokenError("bad signature")
    if token.kind != kind:
        raise TokenError("token of another kind")
    if now.astimezone(timezone.utc).timestamp() > token.expires:
        raise TokenExpired("expired")
    return token


def _read(text: str, secret: bytes) -> Token | None:
    try:
        kind, public_id, value, expires = _serializer(secret).loads(text)
        token = Token(str(kind), str(public_id), str(value), int(expires))
    except (BadData, ValueError, TypeError):
        return None
    return token if sign(token, secret) == text else None  # only the exact form we wrote


# ---- links sent before 2026-12: payload "kind.public_id.value.expires", a 16-byte HMAC-SHA256 --------

def _read_legacy(text: str, secret: bytes, now: datetime) -> Token | None:
    if now >= LEGACY_UNTIL:
        return None
    try:
        encoded_payload, encoded_signature = text.split(".")
        payload = base64.urlsafe_b64decode(encoded_payload + "=" * (-len(encoded_payload) % 4))
        signature = base64.urlsafe_b64decode(encoded_signature + "=" * (-len(encoded_signature) % 4))
        fields = payload.decode().split(".")
        token = Token(fields[0], fields[1], fields[2], int(fields[3]))
    except (ValueError, UnicodeDecodeError, IndexError):
        return None
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    canonical = f"{_b64(payload)}.{_b64(expected)}" == text
    return token if len(fields) == 4 and canonical and hmac.compare_digest(signature, expected) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def legacy_sign(token: Token, secret: bytes) -> str:
    """A link as Ascolto wrote them before 2026-12 (for the tests that show they are still read)."""
    payload = f"{token.kind}.{token.public_id}.{token.value}.{token.expires}".encode()
    return f"{_b64(payload)}.{_b64(hmac.new(secret, payload, hashlib.sha256).digest()[:16])}"
