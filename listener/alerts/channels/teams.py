"""Microsoft Teams, natively: a Workflows (Power Automate) webhook gets an Adaptive Card with the
title in the warning colour, the quote in an emphasis box, a fact set and two or three buttons."""

from __future__ import annotations

from listener.alerts.settings import Channel

from ..messages import Outgoing
from .http import JsonSender, chat_actions, chat_facts
from .urls import teams_url, url_of

TYPE = "teams"
LABEL = "Microsoft Teams (Workflows webhook)"
MAX_ENTRIES = 12


def make_sender(channel: Channel, mailer, sender: str) -> JsonSender:
    return JsonSender(channel, url_of(channel, teams_url), render)


def _entry(entry, many: bool) -> list[dict]:
    items = []
    if many:
        items.append({"type": "TextBlock", "text": entry.title, "weight": "Bolder", "wrap": True})
    if entry.quoted:
        items.append({"type": "Container", "style": "emphasis", "items": [
            {"type": "TextBlock", "text": entry.quoted[:2800], "wrap": True}]})
    facts = [{"title": f.label, "value": f.value} for f in chat_facts(entry)]
    if facts:
        items.append({"type": "FactSet", "facts": facts})
    actions = [{"type": "Action.OpenUrl", "title": a.label, "url": a.url, **({"style": "positive"} if a.primary else {})}
               for a in chat_actions(entry)]
    if actions:
        items.append({"type": "ActionSet", "actions": actions})
    return items


def render(outgoing: Outgoing) -> dict:
    title = outgoing.subject.removeprefix("[Ascolto] ")
    body = [{"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True,
             "color": "Attention" if outgoing.urgent else "Default"},
            {"type": "TextBlock", "text": outgoing.intro, "wrap": True, "isSubtle": True}]
    entries = outgoing.entries[:MAX_ENTRIES]
    for entry in entries:
        if entry.line:
            body.append({"type": "TextBlock", "wrap": True, "text": f"**{entry.title}**: {entry.quoted}"
                         + (f" [{entry.primary.label}]({entry.primary.url})" if entry.primary else "")})
        else:
            body += _entry(entry, len(entries) > 1)
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
            "body": body, "msteams": {"width": "Full"}}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "content": card}]}
