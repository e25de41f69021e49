"""Secrets come from the environment only: the configuration names the variable, never the value.

A missing secret is named by its variable, and so is one too short to be safe (a link-signing
secret of five characters can be guessed); its value never appears in a message or a log.
"""

from __future__ import annotations

import os

from .errors import MissingCredential

SIGNING_SECRET_CHARS = 16  # a link-signing secret shorter than this is refused
SECRET_HINT = "e.g. from `openssl rand -hex 32`"


def read_secret(variable: str, needed_for: str, min_chars: int = 1) -> str:
    """The value of the environment variable ``variable``; MissingCredential names it if it is unset,
    blank or shorter than ``min_chars``."""
    value = os.environ.get(variable, "")
    if not value.strip():
        raise MissingCredential(variable, needed_for)
    if len(value) < min_chars:
        raise MissingCredential(variable, needed_for, f"is too short ({len(value)} characters; at least {min_chars}, "
                                                      f"{SECRET_HINT})")
    return value


def signing_secret(variable: str) -> bytes:
    """The secret that signs every link Ascolto sends (surveys, unsubscribe, alert actions, replies)."""
    return read_secret(variable, f"signing the links in surveys and alerts; at least {SIGNING_SECRET_CHARS} "
                                 f"characters, {SECRET_HINT}", SIGNING_SECRET_CHARS).encode()
