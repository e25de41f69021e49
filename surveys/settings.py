"""Survey settings, built by the configuration loader; secrets are read from the environment on use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from listener.kernel.secrets import SECRET_HINT, SIGNING_SECRET_CHARS, read_secret, signing_secret

from .policy import ContactPolicy


def _url_problem(url: str) -> str | None:
    return None if url.startswith(("https://", "http://")) else f"expected an http(s) URL, got {url!r}"


@dataclass(frozen=True)
class SurveySettings:
    """The [surveys] table; the field metadata (bounds, checks) tells the configuration reader how to
    check each key."""

    # where customers reach the answer page, e.g. https://feedback.example.com
    base_url: str = field(metadata={"check": _url_problem})
    sender: str
    policy: ContactPolicy = field(default_factory=ContactPolicy)
    secret_env: str = "ASCOLTO_SURVEY_SECRET"  # signs the links
    orders_secret_env: str = "ASCOLTO_ORDERS_SECRET"  # shops call the orders endpoint with it
    host: str = "127.0.0.1"
    port: int = field(default=8080, metadata={"low": 1, "high": 65535})
    interval_minutes: float = field(default=10.0, metadata={"low": 0.1})
    max_comment_chars: int = field(default=2000, metadata={"low": 1, "high": 20000})
    # CSV files read on every survey run, new rows only (a shop's nightly export; the example's samples)
    orders_file: Path | None = field(default=None, metadata={"path": True})
    replies_file: Path | None = field(default=None, metadata={"path": True})
    # Sample data: each file's dates move by whole days so that its newest is yesterday (the example)
    relative_dates: bool = False

    def secret(self) -> bytes:
        return signing_secret(self.secret_env)

    def orders_secret(self) -> bytes:
        return read_secret(self.orders_secret_env, f"the orders endpoint; at least {SIGNING_SECRET_CHARS} characters, "
                                                   f"{SECRET_HINT}", SIGNING_SECRET_CHARS).encode()

    def link(self, path: str) -> str:
        return self.base_url.rstrip("/") + path
