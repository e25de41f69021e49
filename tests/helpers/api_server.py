"""A real HTTP server on loopback that plays recorded API answers, for client libraries whose
transport the other helpers do not mock (google-api-python-client speaks httplib2)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from helpers.net import serving


@dataclass
class ApiServer:
    url: str = ""
    requests: list[dict] = field(default_factory=list)
    answers: dict[str, list[tuple[int, bytes, dict]]] = field(default_factory=dict)

    def answer(self, path: str, body=None, status: int = 200, headers: dict | None = None) -> None:
        """Queue an answer to the next request for ``path``: a dict or list is sent as JSON."""
        data = json.dumps(body).encode() if isinstance(body, dict | list) else (body or b"")
        self.answers.setdefault(path, []).append((status, data, {"Content-Type": "application/json",
                                                                 **(headers or {})}))

    def played(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def respond(self, handler) -> None:
        parts = urlsplit(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        self.requests.append({"method": handler.command, "path": parts.path, "body": body,
                              "query": {k: v[-1] for k, v in parse_qs(parts.query).items()},
                              "headers": dict(handler.headers)})
        queued = self.answers.get(parts.path) or []
        status, data, headers = queued.pop(0) if queued else (404, b'{"error": "nothing recorded"}', {})
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@pytest.fixture
def api_server():
    """An ``ApiServer`` on 127.0.0.1; every queued answer must be played, and some request made."""
    recorded = ApiServer()
    with serving(recorded.respond) as port:
        recorded.url = f"http://127.0.0.1:{port}/"
        yield recorded
    assert recorded.requests, "this recorded-HTTP test made no HTTP request"
    unplayed = {path: len(queued) for path, queued in recorded.answers.items() if queued}
    assert not unplayed, f"answers not played: {unplayed}"
