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


def cassette(path):
    """Recorded HTTP for client libraries that do not use `requests` (google-play-scraper speaks
    urllib): a vcrpy cassette, played only (no recording), every interaction of which must be played."""
    import contextlib

    import vcr

    @contextlib.contextmanager
    def played():
        with vcr.use_cassette(str(path), record_mode="none", match_on=["method", "uri"]) as recorded:
            yield recorded
            assert recorded.all_played, f"{path.name}: {len(recorded.data) - recorded.play_count} interactions not played"

    return played()


@pytest.fixture
def recorded_httpx():
    """The `respx` mock of the `httpx` transport (atproto's): every route must be called, and a test
    that made no request fails."""
    import respx

    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock
        assert mock.calls, "this recorded-HTTP test made no HTTP request"
