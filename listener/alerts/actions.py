"""One-click actions in alerts: take the case, contacted, resolved, lost, not a complaint, right alert,
and "this is a complaint" in the list of near misses.

Each link is signed for one delivery, so for the person (or chat channel) it was sent to, with the
same mechanism as the survey links (HMAC, an expiry), and it is scanner-safe the same way: opening
it (GET) only shows what it would do and a button; the action happens on the POST, which carries a
single-use form token. A forged, tampered or expired link and a replayed form are refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, Response, request

from listener.cases import CaseError, assign, correct_label, move
from listener.kernel.i18n import N_, translations
from listener.kernel.signing import Token, TokenError, sign, verify
from listener.kernel.templating import environment
from listener.kernel.times import iso
from listener.store.alerts import ActionSubject, action_subject, use_nonce
from listener.store.cases import open_case
from surveys.web import SECURITY_HEADERS, Refusal, best_language, message, verified

from ..settings import Brand

LINK_KIND, FORM_KIND = "a", "af"
FORM_VALID_HOURS = 24
CASE_MOVES = {"contacted": "contacted", "resolved": "resolved", "lost": "lost", "not_complaint": "dismissed"}
ACTIONS = ("take", "contacted", "resolved", "lost", "not_complaint", "right", "complaint")

PAGES = {
    'take': (N_('Take the case'), N_('Case #{case} will be assigned to {who}.'), N_("I'll take it")),
    'contacted': (N_('Customer contacted'), N_("Case #{case} will move to 'contacted'."), N_('Confirm')),
    'resolved': (N_('Case resolved'), N_('Case #{case} will be closed as resolved.'), N_('Confirm')),
    'lost': (N_('Case lost'), N_('Case #{case} will be closed as lost.'), N_('Confirm')),
    'not_complaint': (N_('Not a complaint'), N_('The alert will be marked wrong (the model learns from it) and case #{case} closed.'), N_('Not a complaint')),
    'right': (N_('Right alert'), N_('The alert will be marked right (the model learns from it).'), N_('Confirm')),
    'complaint': (N_('This is a complaint'), N_('The message will be marked a complaint (the model learns from it) and a case opened.'), N_('It is a complaint')),
    'done': N_('Done'),
    'replayed': N_('This form was already sent.'),
    'refused': N_('Not possible'),
}


def gettext(lang: str, text: str) -> str:
    return translations(lang).gettext(text)


@dataclass(frozen=True)
class ActionLinks:
    """Makes the signed links of one dispatch run."""

    base_url: str
    secret: bytes
    expires: datetime

    def __call__(self, delivery_id: int, action: str) -> str:
        token = Token(LINK_KIND, str(delivery_id), action, int(self.expires.timestamp()))
        return f"{self.base_url.rstrip('/')}/a/{sign(token, self.secret)}"


def action_links(base_url: str, secret: bytes, now: datetime, valid_days: float) -> ActionLinks:
    return ActionLinks(base_url, secret, now + timedelta(days=valid_days))


def actions_blueprint(open_db: Callable, secret: Callable[[], bytes], brands: dict[str, Brand],
                      now: Callable[[], datetime], case_due: Callable[[], datetime]) -> Blueprint:
    pages = Blueprint("alert_actions", __name__)

    def load(token_text: str):
        token = verified(token_text, secret(), now(), LINK_KIND)
        action, _, item = token.value.partition("-")
        if action not in ACTIONS or not token.public_id.isdigit() or (action == "complaint") != item.isdigit():
            raise Refusal(message("bad", 400, best_language()))
        db = open_db()
        subject = action_subject(db, int(token.public_id), int(item) if item else None)
        if subject is None:
            db.close()
            raise Refusal(message("bad", 404, best_language()))
        brand = brands.get(subject.brand)
        return token, action, subject, db, (brand.alert_language if brand else best_language())

    @pages.get("/a/<token_text>")
    def confirm(token_text: str):
        token, action, subject, db, lang = load(token_text)
        db.close()
        form = Token(FORM_KIND, token.public_id, secrets.token_urlsafe(12),
                     int((now() + timedelta(hours=FORM_VALID_HOURS)).timestamp()))
        title, body, button = (gettext(lang, text) for text in PAGES[action])
        return _page(lang, title=title, body=body.format(case=subject.case_id or "-", who=subject.target),
                     quoted=subject.text or "", button=button, form_token=sign(form, secret()),
                     action=f"/a/{token_text}")

    @pages.post("/a/<token_text>")
    def act(token_text: str):
        token, action, subject, db, lang = load(token_text)
        try:
            form = verify(request.form.get("form_token", ""), secret(), now(), FORM_KIND)
            if form.public_id != token.public_id:
                raise TokenError("form of another link")
        except TokenError:
            db.close()
            return message("bad", 400, lang)
        try:
            with db.atomic():
                used = use_nonce(db, form.value, int(token.public_id), action, iso(now()))
                if used:
                    done = _perform(db, action, subject, iso(now()), iso(case_due()))
        except CaseError as exc:
            return _page(lang, title=gettext(lang, PAGES["refused"]), body=str(exc), status=409)
        finally:
            db.close()
        if not used:
            return _page(lang, title=gettext(lang, PAGES["refused"]), body=gettext(lang, PAGES["replayed"]), status=409)
        return _page(lang, title=gettext(lang, PAGES["done"]), body=done)

    return pages


def _perform(db, action: str, subject: ActionSubject, now: str, due: str) -> str:
    """Do it; the transaction is the caller's. Returns what was done, in a few words."""
    who = subject.target
    if action in ("take", *CASE_MOVES) and subject.case_id is None:
        raise CaseError("this alert has no follow-up case")
    if action == "take":
        case = assign(db, subject.case_id, who, now)
        return f"#{case.id} → {case.owner}"
    if action in ("not_complaint", "right", "complaint"):
        label = "unhappy" if action in ("right", "complaint") else "other"
        correct_label(db, "mention", subject.mention_id, label, who, now, task="detector", via="link")
        if action == "complaint":
            open_case(db, "mention", subject.mention_id, subject.brand, due, now)
            return f"{subject.mention_id}: {label}"
        if action == "right":
            return f"{subject.mention_id}: {label}"
    case = move(db, subject.case_id, CASE_MOVES[action], now)
    return f"#{case.id}: {case.status}"


def _page(lang: str, status: int = 200, **context) -> Response:
    body = environment("listener.alerts", "surveys").get_template("action.html").render(lang=lang, **context)
    return Response(body, status=status, headers=SECURITY_HEADERS, content_type="text/html; charset=utf-8")
