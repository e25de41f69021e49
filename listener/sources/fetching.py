"""What the sources that talk plain HTTP share: one request with retries and our errors, and HTML
turned into the text people read.

A 5xx answer or a network failure is retried (2 s, 4 s) and then ``SourceUnavailable``; 429 is
``RateLimited`` until the time its ``Retry-After`` says; 401 and 403 are ``SourceRefused`` with the
hint the caller gives (which variable holds the credential); 304 Not Modified is returned as is.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta, timezone
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

from listener.kernel.errors import RateLimited, SourceRefused, SourceUnavailable

from .base import Sleep
from .retry import call_with_retries

TIMEOUT = 30  # seconds, for one request
_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "pre"}


class _Server5xx(Exception):
    def __init__(self, status: int, text: str):
        self.status = status
        super().__init__(f"{status} {text}")


def request(session, method: str, url: str, *, what: str, refused_hint: str = "", sleep: Sleep, **kwargs):
    """``session.request(...)`` the way every HTTP source wants it; returns the response (2xx or 304)."""
    import requests

    def once():
        response = session.request(method, url, timeout=TIMEOUT, **kwargs)
        if response.status_code >= 500:
            raise _Server5xx(response.status_code, response.reason or "")
        return response

    try:
        response = call_with_retries(once, transient=(_Server5xx, requests.ConnectionError, requests.Timeout),
                                     what=what, sleep=sleep)
    except _Server5xx as exc:
        raise SourceUnavailable(f"{what}: unavailable after retries ({exc})") from None
    except requests.RequestException as exc:
        raise SourceUnavailable(f"{what}: unavailable after retries ({type(exc).__name__})") from None
    if response.status_code == 429:
        resume = retry_after(response.headers.get("Retry-After"))
        raise RateLimited(f"{what}: rate limited (429)", resume=resume)
    if response.status_code in (401, 403):
        raise SourceRefused(f"{what}: refused ({response.status_code}){': ' + refused_hint if refused_hint else ''}")
    if response.status_code >= 400:
        raise SourceRefused(f"{what}: {response.status_code} {response.reason or ''}".rstrip())
    return response


def retry_after(value: str | None):
    """When a ``Retry-After`` header lets us ask again, as a function of the collect job's clock:
    seconds from now, or an HTTP date; None when the header says neither."""
    value = (value or "").strip()
    if value.isdigit():
        return lambda now: now + timedelta(seconds=int(value))
    try:
        moment = parsedate_to_datetime(value).astimezone(timezone.utc)
    except (TypeError, ValueError, IndexError):
        return None
    return lambda now: moment


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(self.skip - 1, 0)
        elif tag in _BLOCKS and tag != "br":  # <br> and <br/> are one line break, not two
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable text of a fragment of HTML (a feed entry, a Mastodon post): tags dropped, paragraphs
    and line breaks kept as line breaks, entities decoded, spaces collapsed."""
    if "<" not in markup:
        return " ".join(html.unescape(markup).split())
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
