"""Exceptions of the sentiment package; the CLI turns them into one line and a non-zero exit."""


class SentimentError(Exception):
    """Base class of expected failures in the sentiment package."""


class ModelUnavailable(SentimentError):
    """A model, its files or the packages it needs are missing."""


class BadLabels(SentimentError):
    """A model's labels cannot be mapped onto negative/neutral/positive."""


class BadDataset(SentimentError):
    """An evaluation or training file is malformed."""
