"""Recorded HTTP for the real API client libraries, and no real sleeping."""

from __future__ import annotations

import pytest


@pytest.fixture
def recorded_http():
    """The `responses` mock of the `requests` transport that tweepy and praw use.

    Every registered response must be played, and a test that played none fails: a recorded-HTTP
    test that talks to nothing proves nothing.
    """
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        assert mock.calls, "this recorded-HTTP test made no HTTP request"


@pytest.fixture
def no_sleep(monkeypatch):
    """prawcore spaces and retries requests with time.sleep; the tests do not wait (praw's own tests
    patch it the same way). Returns the list of requested delays."""
    import time

    delays = []
    monkeypatch.setattr(time, "sleep", lambda seconds: delays.append(seconds))
    return delays
