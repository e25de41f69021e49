"""The registry of alert channel types: ``[[alerts.channels]] type`` -> the module that sends.

A channel module exports ``TYPE``, ``LABEL`` and ``make_sender(channel, mailer, sender)``, which
returns the object whose ``session()`` sends messages (``with sender.session() as send:
send(outgoing, target)``), or None when it cannot send yet (email without SMTP: alerts wait). A
new channel type is one module and one line here.
"""

from __future__ import annotations

from types import ModuleType

from listener.kernel.errors import AscoltoError

from . import apprise, email, slack, teams, telegram, webhook

CHANNELS: dict[str, ModuleType] = {module.TYPE: module for module in (email, slack, teams, telegram, webhook, apprise)}
CONTRACT = ("TYPE", "LABEL", "make_sender")


def channel_module(kind: str) -> ModuleType:
    try:
        return CHANNELS[kind]
    except KeyError:
        raise AscoltoError(f"unknown alert channel type {kind!r}; types: {', '.join(CHANNELS)}") from None
