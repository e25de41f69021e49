"""Signed, expiring tokens for survey and unsubscribe links (HMAC-SHA256, secret from the environment).

A token is ``payload.signature``, both base64url: the payload names what the link does
(``s`` answer with a score, ``u`` unsubscribe, ``f`` one submitted form), the invitation's random
public id, the score and the expiry time. Anyone can read a payload; nobody without the secret can
make or change one. Comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone

SIGNATURE_BYTES = 16  # 128 bits: unforgeable, and the links stay short


class TokenError(ValueError):
    """The token is malformed, forged or tampered with."""


class TokenExpired(TokenError):
    """The token is genuine but its time is over."""


@dataclass(frozen=True)
class Token:
    kind: str  # "s" survey answer, "u" unsubscribe, "f" form submission
    public_id: str
    value: str  # the score for "s", a nonce for "f", "" for "u"
    expires: int  # Unix time

    def payload(self) -> bytes:
        return f"{self.kind}.{self.public_id}.{self.value}.{self.expires}".encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def sign(token: Token, secret: bytes) -> str:
    payload = token.payload()
    return f"{_b64(payload)}.{_b64(_signature(secret, payload))}"


def verify(text: str, secret: bytes, now: datetime, kind: str) -> Token:
    """The token, if genuine, of the expected kind and not expired; else TokenError/TokenExpired."""
    try:
        encoded_payload, encoded_signature = text.split(".")
        payload, signature = _unb64(encoded_payload), _unb64(encoded_signature)
        fields = payload.decode().split(".")
        token = Token(fields[0], fields[1], fields[2], int(fields[3]))
    except (ValueError, UnicodeDecodeError, IndexError):
        raise TokenError("malformed token") from None
    if not hmac.compare_digest(signature, _signature(secret, payload)) or len(fields) != 4:
        raise TokenError("bad signature")
    if token.kind != kind:
        raise TokenError("token of another kind")
    if now.astimezone(timezone.utc).timestamp() > token.expires:
        raise TokenExpired("expired")
    return token
