"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepts."""

from __future__ import annotations

import pytest

from .net import free_port


class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        from email import message_from_bytes, policy

        return [message_from_bytes(e.original_content, policy=policy.default) for e in self.envelopes]


@pytest.fixture
def smtp_server():
    """Start a real SMTP server on loopback; ``start(port)`` lets a test bring it up late."""
    from aiosmtpd.controller import Controller

    controllers = []

    def start(port: int | None = None, handler=None):
        inbox = handler or Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
        controller.start()
        controllers.append(controller)
        return controller, inbox

    yield start
    for controller in controllers:
        controller.stop()
