"""Sending a reply where the customer wrote.

- A survey answer: an email from the brand's survey sender, threaded under the invitation (its
  Message-ID in In-Reply-To and References), the case in an ``X-Ascolto-Case`` header.
- A mention: the platform's own API through the source module of its kind (``send_reply``), with
  write credentials from the environment (a missing one is named); the first configured source of
  that kind gives the settings.
- Anything else (feeds, imported files, a platform without write access): the person copies the reply
  and posts it themselves (``manual``); the reply is recorded all the same.

A reply is recorded before it is sent, keyed by its form's idempotency key (``store.replies``): a
second press of the same form sends nothing. A failure keeps the draft and says why; the case moves
to "contacted" once a reply went out.
"""

from __future__ import annotations

import email.policy
import json
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from types import ModuleType

from listener.cases import move
from listener.kernel.delivery import DeliveryError
from listener.kernel.errors import AscoltoError
from listener.kernel.i18n import N_, localized
from listener.kernel.textfiles import one_line
from listener.kernel.times import iso, parse_timestamp
from listener.sources.base import ReplyRefused, ReplyTo
from listener.sources.registry import SOURCES, source_module
from listener.store import replies as store
from listener.store.cases import add_event, find_case
from listener.store.replies import Reply

log = logging.getLogger(__name__)
MANUAL, EMAIL = "manual", "email"
TEXT = {
    'subject': N_('{brand}: about your answer to our survey'),
}


@dataclass(frozen=True)
class Target:
    """What a reply answers: a mention (where it was written) or a survey answer (who wrote it)."""

    kind: str  # "mention" or "response"
    subject_id: str
    brand: str
    lang: str
    platform: str  # the mention's source ("x", "mastodon", ...), "email" for a survey answer
    case_id: int | None = None
    reply_to: ReplyTo | None = None  # a mention's native id, raw item, author and link
    email: str | None = None  # a survey answer's customer
    name: str | None = None
    order_ref: str | None = None
    invitation: str | None = None  # the invitation's public id: the email thread


class ReplyFailed(AscoltoError):
    """The platform refused the reply, or could not be reached; the message says why."""


def channel_of(target: Target, sources) -> tuple[str, ModuleType | None, object | None]:
    """(channel, source module, its settings) a reply to ``target`` goes through: the platform's
    API where a source of that kind is configured and can reply, email for a survey answer, else
    ``manual``."""
    if target.kind == "response":
        return (EMAIL, None, None) if target.email else (MANUAL, None, None)
    kind = target.platform if target.platform in SOURCES else None
    settings = next((s for s in sources if kind and s.kind == kind), None)
    module = source_module(kind) if kind else None
    if settings is None or module is None or not hasattr(module, "send_reply"):
        return MANUAL, None, None
    return kind, module, settings


def reply_writer(module: ModuleType, settings) -> str | None:
    """Why this source cannot post replies now (a write credential or setting missing, named), or None.
    A source whose client logs in when made says so without the network (its ``reply_ready``); the
    others' clients are made offline."""
    try:
        getattr(module, "reply_ready", module.reply_client)(settings)
    except AscoltoError as exc:
        return str(exc)
    return None


def send(db, target: Target, text: str, key: str, who: str, now, *, sources, mailer, sender: str | None,
         manual: bool = False) -> tuple[Reply, bool]:
    """Record the reply of form ``key`` and send it (or, ``manual``, record that the person posted it
    by hand). Returns (the reply, whether this call sent it: False for a repeated press)."""
    channel, module, settings = channel_of(target, sources)
    channel = MANUAL if manual else channel
    with db.atomic():
        reply, new = store.start_reply(db, key=key, case_id=target.case_id, kind=target.kind,
                                       subject_id=target.subject_id, brand=target.brand, channel=channel,
                                       text=text, who=who, now=iso(now))
    if not new:
        return reply, False
    try:
        if channel == MANUAL:
            platform_id, status = None, "copied"
        elif channel == EMAIL:
            platform_id, status = _email(target, text, who, mailer, sender, now), "sent"
        else:
            platform_id, status = module.send_reply(module.reply_client(settings), settings, target.reply_to, text,
                                                    key), "sent"
    except (ReplyFailed, ReplyRefused, AscoltoError) as exc:
        log.warning("reply %s to %s %s failed: %s", reply.id, target.kind, target.subject_id, exc)
        return _failed(db, reply.id, key, str(exc), now), True
    except Exception as exc:  # a client library's own error we do not know: the draft is kept all the same
        log.exception("reply %s to %s %s failed", reply.id, target.kind, target.subject_id)
        return _failed(db, reply.id, key, f"{type(exc).__name__}: {exc}; it may have been posted: check before "
                                          "sending again", now), True
    with db.atomic():
        store.finish_reply(db, reply.id, status, iso(now), platform_id=platform_id)
        _contacted(db, target.case_id, who, channel, now)
    return store.reply_by_key(db, key), True


def _failed(db, reply_id: int, key: str, why: str, now) -> Reply:
    with db.atomic():
        store.finish_reply(db, reply_id, "failed", iso(now), error=why[:500])
    return store.reply_by_key(db, key)


def _contacted(db, case_id: int | None, who: str, channel: str, now) -> None:
    """The case records the reply and moves to 'contacted' if it was still open."""
    if case_id is None:
        return
    add_event(db, case_id, iso(now), who, "replied", channel)
    case = find_case(db, case_id)
    if case is not None and case.status == "open":
        move(db, case_id, "contacted", iso(now), who)


def _email(target: Target, text: str, who: str, mailer, sender: str | None, now) -> str:
    if mailer is None or not sender:
        raise ReplyFailed("no SMTP server configured ([alerts.smtp]); copy the reply into your email instead")
    message = reply_email(target, text, sender, now)
    try:
        with mailer.session() as send_message:
            send_message(message)
    except DeliveryError as exc:
        raise ReplyFailed(str(exc)) from None
    return message["Message-ID"]


def reply_email(target: Target, text: str, sender: str, now) -> EmailMessage:
    """The answer to a survey comment: from the brand, to the customer, in the invitation's thread."""
    t = localized(target.lang, TEXT)
    domain = sender.rpartition("@")[2] or None
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = t["subject"].format(brand=target.brand)
    msg["From"] = formataddr((target.brand, sender))
    msg["To"] = formataddr((one_line(target.name or ""), target.email))
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Date"] = format_datetime(parse_timestamp(iso(now)))
    if target.invitation:  # the thread the customer answered in
        parent = f"<survey.{target.invitation}@{domain}>"
        msg["In-Reply-To"], msg["References"] = parent, parent
    if target.case_id is not None:
        msg["X-Ascolto-Case"] = str(target.case_id)
    msg["Content-Language"] = target.lang
    msg.set_content(text)
    return msg


def raw_item(raw: str | None) -> dict:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
