"""A real HTTP server on loopback that records what it receives and answers as told."""

from __future__ import annotations

import pytest

from helpers.net import serving


class Recorder:
    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[int] = []  # status codes to answer, in order; then 200

    def status(self) -> int:
        return self.answers.pop(0) if self.answers else 200


def _respond(recorder: Recorder):
    def respond(handler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        status = recorder.status()
        recorder.requests.append({"path": handler.path, "headers": dict(handler.headers), "body": body,
                                  "status": status})
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(b"{}")

    return respond


@pytest.fixture
def webhook():
    """``(port, recorder)`` of a server on 127.0.0.1 that records every POST."""
    recorder = Recorder()
    with serving(_respond(recorder)) as port:
        yield port, recorder
