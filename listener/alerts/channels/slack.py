"""Slack, natively: an incoming webhook gets a Block Kit message (a section per alert with the quote,
a few fields, two or three buttons, the model's feedback links in small print), in an attachment
of the warning colour, sent as "Ascolto"."""

from __future__ import annotations

from listener.alerts.settings import Channel

from ..messages import Outgoing
from .http import JsonSender, chat_actions, chat_facts
from .urls import slack_url, url_of

TYPE = "slack"
LABEL = "Slack (incoming webhook)"
MAX_ENTRIES = 12  # Slack takes 50 blocks a message; a longer digest is paged before it gets here


def make_sender(channel: Channel, mailer, sender: str) -> JsonSender:
    return JsonSender(channel, url_of(channel, slack_url), render)


def escape(text: str) -> str:
    """Slack's three control characters (the rest of mrkdwn stays as the author wrote it)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote(text: str, limit: int = 2800) -> str:
    text = text if len(text) <= limit else text[:limit] + " […]"
    return "\n".join(f"&gt; {escape(line)}" for line in text.splitlines() or [""])


def _entry_blocks(entry, many: bool) -> list[dict]:
    head = f"*{escape(entry.title)}*\n" if many else ""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": head + _quote(entry.quoted)}}]
    fields = [{"type": "mrkdwn", "text": f"*{escape(f.label)}*\n" + (f"<{f.url}|{escape(f.value)}>" if f.url and
              f.url.startswith(("https://", "http://")) else escape(f.value))} for f in chat_facts(entry)]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    buttons = [{"type": "button", "text": {"type": "plain_text", "text": a.label[:75]}, "url": a.url,
                **({"style": "primary"} if a.primary else {})} for a in chat_actions(entry)]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    quiet = [f"<{a.url}|{escape(a.label)}>" for a in entry.actions if a.quiet]
    if quiet:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(quiet)}]})
    return blocks


def render(outgoing: Outgoing) -> dict:
    title = outgoing.subject.removeprefix("[Ascolto] ")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(title)}*\n{escape(outgoing.intro)}"}}]
    entries = outgoing.entries[:MAX_ENTRIES]
    for entry in entries:
        if entry.line:
            link = f" <{entry.primary.url}|{escape(entry.primary.label)}>" if entry.primary else ""
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"• *{escape(entry.title)}*: "
                                                                                  f"{escape(entry.quoted)}{link}"}})
        else:
            blocks += _entry_blocks(entry, len(entries) > 1)
    return {"text": title, "username": "Ascolto", "icon_emoji": ":ear:", "unfurl_links": False,
            "attachments": [{"color": "#c0392b" if outgoing.urgent else "#8a8a8a", "fallback": title,
                             "blocks": blocks}]}
