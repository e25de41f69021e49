"""The reply page: answer the customer from the alert.

Its link is signed like the action links, for one delivery (the person or chat channel the alert
went to) and the action "reply", and expires with them. Opening it (GET, what a mail scanner does)
only shows: the customer's text, who and where, the case and its history, their earlier mentions, up
to three suggested replies (a suggestion reloads the page with it in the box: no scripts) and the
reply box. Only the POST sends, with a form token minted for that page whose nonce is the reply's
idempotency key: pressing Send twice, or replaying the POST, sends one reply.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, request

from listener.alerts.actions import LINK_KIND, NAME_CHARS, NAME_COOKIE
from listener.cases import EVENT_NAMES, STATUS_NAMES
from listener.kernel.hours import local_time
from listener.kernel.i18n import N_, localized
from listener.kernel.pages import Refusal, bad_link, best_language, html, verified
from listener.kernel.signing import Token, TokenError, sign, verify
from listener.kernel.textfiles import one_line
from listener.settings import DEFAULT_TIMEZONE
from listener.sources.base import ReplyTo
from listener.store.alerts import action_subject
from listener.store.cases import find_case, history
from listener.store.replies import earlier_by_author, replies_of, subject_of
from listener.store.themes import themes_of

from .sending import MANUAL, Target, channel_of, raw_item, reply_writer, send
from .suggestions import suggestions

FORM_KIND = "rf"
FORM_VALID_HOURS = 24
REPLY_CHARS = 5000  # longer than any platform takes; the platform refuses what it cannot post

TEXT = {
    'title': N_('Reply to {who}'),
    'where': N_('{platform}, {when}'),
    'case': N_('Case #{case}: {status}'),
    'history': N_('History'),
    'earlier': N_('Earlier messages from {who}'),
    'suggested': N_('Suggested replies'),
    'use': N_('Use this one'),
    'your_reply': N_('Your reply'),
    'your_name': N_('Your name'),
    'send': N_('Send the reply'),
    'send_where': N_('It will be posted on {platform} as a reply to this message.'),
    'send_email': N_('It will be emailed to {email} from {brand}.'),
    'manual': N_('{platform} takes no replies from Ascolto: copy your reply, open the message, post it there, '
                 'then press the button so the case records it.'),
    'manual_why': N_('Why: {why}'),
    'posted': N_("I've posted it"),
    'open_post': N_('Open the message'),
    'sent': N_('Your reply was posted. Case #{case} is now contacted.'),
    'copied': N_('Your reply is recorded with the case.'),
    'failed': N_('{platform} said: {error}. Your draft is below: try again, or post it by hand.'),
    'already': N_('This reply was already sent, on {when}.'),
    'previous': N_('Replies sent'),
    'empty': N_('Write a reply first.'),
}


def reply_blueprint(open_db: Callable, secret: Callable[[], bytes], config, now: Callable[[], datetime],
                    mailer: Callable[[], object], platform: Callable[[str], str]) -> Blueprint:
    """``config``: the App's configuration (brands, sources, replies, the survey sender); ``mailer()``:
    the SMTP mailer or None; ``platform(source)``: a source's name for people ("X")."""
    pages = Blueprint("replies", __name__)

    def load(token_text: str):
        token = verified(token_text, secret(), now(), LINK_KIND)
        if token.value != "reply" or not token.public_id.isdigit():
            raise Refusal(bad_link(400))
        db = open_db()
        found = action_subject(db, int(token.public_id), None)
        subject = subject_of(db, "mention", found.mention_id) if found and found.mention_id else \
            subject_of(db, "response", found.subject.split(":")[-1]) if found and found.kind == "detractor_response" \
            else None
        if subject is None:
            db.close()
            raise Refusal(bad_link(404))
        brand = config.brand_by_name.get(subject.brand or "")
        lang = brand.alert_language if brand else best_language()
        zone = brand.zone if brand else ZoneInfo(DEFAULT_TIMEZONE)
        target = Target(subject.kind, subject.subject_id, subject.brand or "", lang,
                        subject.source if subject.kind == "mention" else "email", found.case_id,
                        ReplyTo(subject.subject_id.partition(":")[2], raw_item(subject.raw), subject.author,
                                subject.url) if subject.kind == "mention" else None,
                        subject.email, subject.name, subject.order_ref, subject.invitation)
        return token, db, subject, target, lang, zone

    def render(db, token_text, subject, target, lang, zone, status=200, draft="", notice=None, name=""):
        t = localized(lang, TEXT)
        case = find_case(db, target.case_id) if target.case_id else None
        channel, module, settings = channel_of(target, config.sources)
        why = reply_writer(module, settings) if module is not None else None
        manual = channel == MANUAL or why is not None
        who = subject.author or subject.name or subject.email or "?"
        where = platform(subject.source) if subject.kind == "mention" else "email"
        themes = themes_of(db, {(target.kind, target.subject_id)}).get((target.kind, target.subject_id), ())
        agent = name or _name_for()
        drafts = suggestions(config.replies, brand=target.brand, lang=lang, themes=themes,
                             customer=subject.author or subject.name, order=subject.order_ref, agent=agent or "")
        picked = request.args.get("draft", "")
        if not draft and picked.isdigit() and int(picked) < len(drafts):
            draft = drafts[int(picked)]
        earlier = earlier_by_author(db, subject.brand, subject.source, subject.author, subject.created_at) \
            if subject.kind == "mention" and subject.author else []
        form = Token(FORM_KIND, _bound(token_text), secrets.token_urlsafe(16),
                     int((now() + timedelta(hours=FORM_VALID_HOURS)).timestamp()))
        return html("reply.html", status, lang, ("listener.replies",), t=t, title=t["title"].format(who=who), who=who,
                    quoted=subject.text, where=t["where"].format(platform=where, when=local_time(subject.created_at, zone)),
                    case=case, case_line=t["case"].format(case=case.id, status=localized(lang, STATUS_NAMES)[case.status])
                    if case else None,
                    events=[(local_time(e.at, zone), e.who or "-", localized(lang, EVENT_NAMES).get(e.event, e.event),
                             e.detail or "") for e in history(db, case.id)]
                    if case else [],
                    earlier=[(local_time(when, zone), text, url) for when, text, url in earlier],
                    drafts=list(enumerate(drafts)), draft=draft, action=f"/r/{token_text}",
                    form_token=sign(form, secret()), name=agent, manual=manual,
                    manual_text=t["manual"].format(platform=where), manual_why=t["manual_why"].format(why=why)
                    if why else "",
                    send_where=t["send_email"].format(email=subject.email, brand=target.brand)
                    if channel == "email" else t["send_where"].format(platform=where),
                    post_url=subject.url if (subject.url or "").startswith(("https://", "http://")) else None,
                    sent=[(local_time(r.sent_at or r.created_at, zone), r.who or "-", r.channel, r.status, r.text)
                          for r in replies_of(db, target.kind, target.subject_id)], notice=notice)

    @pages.get("/r/<token_text>")
    def show(token_text: str):
        token, db, subject, target, lang, zone = load(token_text)
        try:
            return render(db, token_text, subject, target, lang, zone)
        finally:
            db.close()

    @pages.post("/r/<token_text>")
    def reply(token_text: str):
        token, db, subject, target, lang, zone = load(token_text)
        try:
            try:
                form = verify(request.form.get("form_token", ""), secret(), now(), FORM_KIND)
                if form.public_id != _bound(token_text):
                    raise TokenError("form of another link")
            except TokenError:
                return bad_link(400, lang)
            t = localized(lang, TEXT)
            text = request.form.get("text", "").replace("\r\n", "\n").strip()[:REPLY_CHARS]
            who = one_line(request.form.get("name", ""))[:NAME_CHARS].strip() or "?"
            if not text:
                return render(db, token_text, subject, target, lang, zone, 400, notice=("error", t["empty"]), name=who)
            channel, module, settings = channel_of(target, config.sources)
            manual = request.form.get("mode") == "manual" or channel == MANUAL or (
                module is not None and reply_writer(module, settings) is not None)
            sender = config.surveys.sender if config.surveys is not None else config.alerts.sender
            result, fresh = send(db, target, text, form.value, who, now(), sources=config.sources, mailer=mailer(),
                                 sender=sender, manual=manual)
            if not fresh and result.status != "failed":
                notice = ("ok", t["already"].format(when=local_time(result.sent_at or result.created_at, zone)))
            elif result.status == "failed":
                where = platform(subject.source) if subject.kind == "mention" else "email"
                return render(db, token_text, subject, target, lang, zone, 502, draft=text, name=who,
                              notice=("error", t["failed"].format(platform=where, error=result.error)))
            else:
                key = "copied" if result.status == "copied" else "sent"
                notice = ("ok", t[key].format(case=target.case_id or "-"))
            response = render(db, token_text, subject, target, lang, zone, 200, name=who, notice=notice)
            response.set_cookie(NAME_COOKIE, who, max_age=365 * 86400, path="/", httponly=True, samesite="Strict",
                                secure=request.is_secure)
            return response
        finally:
            db.close()

    return pages


def _bound(token_text: str) -> str:
    """What binds a form to its link: a digest of the link's token (a form of one link is refused
    on another)."""
    return hashlib.sha256(token_text.encode()).hexdigest()[:20]


def _name_for() -> str:
    return request.cookies.get(NAME_COOKIE, "")

