"""Exceptions of the surveys package; the CLI turns them into one line."""

from listener.kernel.errors import AscoltoError


class SurveyError(AscoltoError):
    """An expected failure a person can fix."""


class BadRow(ValueError):
    """An order or reply row that cannot be used; the message says why."""
