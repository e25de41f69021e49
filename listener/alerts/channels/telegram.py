"""Telegram, natively: a bot's sendMessage in HTML (the quote as a blockquote, the facts in bold
labels) with two or three link buttons; the bot token and chat id come from a tgram:// URL."""

from __future__ import annotations

import contextlib
from html import escape

from listener.alerts.settings import Channel

from ..messages import Outgoing
from .http import chat_actions, chat_facts, post_json
from .urls import telegram_target, url_of

TYPE = "telegram"
LABEL = "Telegram (a bot)"
MAX_CHARS = 4000  # Telegram takes 4096 characters a message


class TelegramSender:
    def __init__(self, channel: Channel, url: str, chat_ids: list):
        self.channel, self.url, self.chat_ids = channel, url, chat_ids

    @contextlib.contextmanager
    def session(self):
        what = f"channel {self.channel.name!r}"

        def send(outgoing: Outgoing, target: str) -> None:
            for chat_id in self.chat_ids:
                post_json(self.url, render(outgoing, chat_id), what=what, timeout=self.channel.timeout_seconds,
                          key=outgoing.message_id)

        yield send


def make_sender(channel: Channel, mailer, sender: str) -> TelegramSender:
    url, chat_ids = url_of(channel, telegram_target)
    return TelegramSender(channel, url, chat_ids)


def _entry(entry, many: bool) -> str:
    parts = [f"<b>{escape(entry.title)}</b>"] if many else []
    if entry.quoted:
        parts.append(f"<blockquote>{escape(entry.quoted[:1500])}</blockquote>")
    parts += [f"<b>{escape(f.label)}:</b> {escape(f.value)}" for f in chat_facts(entry)]
    quiet = [f'<a href="{escape(a.url)}">{escape(a.label)}</a>' for a in entry.actions if a.quiet]
    if quiet:
        parts.append("<i>" + " · ".join(quiet) + "</i>")
    return "\n".join(parts)


def render(outgoing: Outgoing, chat_id) -> dict:
    title = outgoing.subject.removeprefix("[Ascolto] ")
    mark = "🔴 " if outgoing.urgent else ""
    parts = [f"{mark}<b>{escape(title)}</b>", escape(outgoing.intro)]
    for entry in outgoing.entries:
        parts.append(f"• <b>{escape(entry.title)}</b>: {escape(entry.quoted)}" if entry.line
                     else _entry(entry, len(outgoing.entries) > 1))
    text = "\n\n".join(parts)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS].rsplit("\n", 1)[0] + "\n…"
    buttons = [[{"text": a.label, "url": a.url}] for a in chat_actions(outgoing.entries[0])] \
        if len(outgoing.entries) == 1 else []
    payload = {"chat_id": chat_id, "text": text, "parse_mode": "HTML", "disable_web_page_preview": True}
    if buttons:
        payload["reply_markup"] = {"inline_keyboard": buttons}
    return payload
