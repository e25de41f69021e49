"""Exceptions of the surveys package; the CLI turns them into one line."""


class SurveyError(Exception):
    """An expected failure a person can fix."""


class MissingSecret(SurveyError):
    def __init__(self, variable: str, needed_for: str):
        self.variable = variable
        super().__init__(f"environment variable {variable} is not set (needed for {needed_for})")


class BadRow(ValueError):
    """An order or reply row that cannot be used; the message says why."""
