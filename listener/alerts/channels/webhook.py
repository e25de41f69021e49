"""Any JSON webhook: the message in Apprise's JSON shape (``version``, ``title``, ``message``,
``type``), so that receivers written for Apprise keep working, plus the alerts as data under
``ascolto``; each message carries its id as the ``Idempotency-Key`` header."""

from __future__ import annotations

from listener.alerts.settings import Channel

from ..messages import Outgoing
from .http import JsonSender
from .urls import url_of, webhook_target

TYPE = "webhook"
LABEL = "JSON webhook"


def make_sender(channel: Channel, mailer, sender: str) -> JsonSender:
    url, headers, auth = url_of(channel, webhook_target)
    return JsonSender(channel, url, render, headers=headers, auth=auth)


def render(outgoing: Outgoing) -> dict:
    return {"version": "1.0", "title": outgoing.subject, "message": outgoing.text(),
            "type": "warning" if outgoing.urgent else "info",
            "ascolto": {"message_id": outgoing.message_id, "kind": outgoing.kind, "bundle": outgoing.bundle,
                        "lang": outgoing.lang, "deliveries": list(outgoing.ids), "entries": [
                            {"title": e.title, "text": e.quoted, "url": e.url,
                             "facts": {f.key or f.label: f.value for f in e.facts},
                             "actions": [{"key": a.key, "label": a.label, "url": a.url} for a in e.actions]}
                            for e in outgoing.entries]}}
