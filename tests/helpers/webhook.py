"""A real HTTP server on loopback that records what it receives and answers as told."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Recorder:
    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[int] = []  # status codes to answer, in order; then 200

    def status(self) -> int:
        return self.answers.pop(0) if self.answers else 200


def _handler(recorder: Recorder):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = recorder.status()
            recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                      "status": status})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):  # quiet
            pass

    return Handler


@pytest.fixture
def webhook():
    """``(port, recorder)`` of a server on 127.0.0.1 that records every POST."""
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], recorder
    server.shutdown()
    server.server_close()
