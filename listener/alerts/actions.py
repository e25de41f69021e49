"""One-click actions in alerts: take the case, contacted, resolved, lost, not a complaint, right alert,
and "this is a complaint" in the list of near misses.

A link is signed for one delivery (so for the person or chat channel it was sent to) and one action,
with the same mechanism as the survey links, and it works once. Mail scanners open every link, so
opening one (GET) only shows what it would do and a button; the action happens on the POST, which
carries a form token minted for that page and that action. A used link says who used it and when; a
link to a case that is closed says how it ended; a forged, tampered, expired or crossed link is
refused. After an action the page offers the case's next steps, as links signed the same way.

Who acted is the name the person gives on the page (remembered in a cookie), or the link's recipient:
a chat channel is many people, an email address is one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request

from listener.cases import STATUS_NAMES, CaseError, assign, correct_label, move
from listener.kernel.hours import local_time
from listener.kernel.i18n import N_, localized
from listener.kernel.pages import Refusal, bad_link, best_language, html, verified
from listener.kernel.signing import Token, TokenError, sign, verify
from listener.kernel.textfiles import one_line
from listener.kernel.times import iso
from listener.store.alerts import ActionSubject, action_subject, action_use, use_action
from listener.store.cases import Case, cases_of, find_case, history, open_case
from listener.store.database import Database

from ..settings import DEFAULT_TIMEZONE, Brand

LINK_KIND, FORM_KIND = "a", "af"
FORM_VALID_HOURS = 24
NAME_COOKIE = "ascolto_name"
NAME_CHARS = 80
CASE_MOVES = {"contacted": "contacted", "resolved": "resolved", "lost": "lost", "not_complaint": "dismissed"}
REPLY = "reply"  # the reply page's link: signed the same way, for the same delivery
ACTIONS = ("take", "contacted", "resolved", "lost", "not_complaint", "right", "complaint")
FEEDBACK = ("not_complaint", "right", "complaint")  # a label for the model, and for the case
# What a person usually does next, offered on the page that confirms an action.
NEXT_STEPS = {"take": ("contacted", "resolved", "lost"), "contacted": ("resolved", "lost"),
              "complaint": ("take",), "right": ("take",)}

ASK = {  # (title, what will happen, button)
    'take': (N_('Take the case'), N_('Case #{case} will be assigned to you.'), N_("I'll take it")),
    'contacted': (N_('Customer contacted'), N_("Case #{case} will move to 'contacted'."), N_('Confirm')),
    'resolved': (N_('Case resolved'), N_('Case #{case} will be closed as resolved.'), N_('Confirm')),
    'lost': (N_('Case lost'), N_('Case #{case} will be closed as lost.'), N_('Confirm')),
    'not_complaint': (N_('Not a complaint'), N_('The alert will be marked wrong (the model learns from it) and case '
                                                '#{case} closed.'), N_('Not a complaint')),
    'right': (N_('Right alert'), N_('The alert will be marked right (the model learns from it).'), N_('Confirm')),
    'complaint': (N_('This is a complaint'), N_('The message will be marked a complaint (the model learns from it) '
                                                'and a case opened.'), N_('It is a complaint')),
}
DONE = {
    'take': N_('Case #{case} is yours, {who}.'),
    'contacted': N_("Case #{case} is now 'contacted'."),
    'resolved': N_('Case #{case} is closed as resolved.'),
    'lost': N_('Case #{case} is closed as lost.'),
    'not_complaint': N_('Marked not a complaint, case #{case} closed. The model learns from it.'),
    'right': N_('Marked a right alert. The model learns from it.'),
    'complaint': N_('Marked a complaint, case #{case} opened. The model learns from it.'),
}
TEXT = {
    'done': N_('Done'),
    'used_title': N_('Already done'),
    'used': N_('This link was used by {who} on {when}.'),
    'closed_title': N_('Case closed'),
    'closed': N_('Case #{case} is already closed ({status}) since {when}, by {who}.'),
    'refused': N_('Not possible'),
    'no_case': N_('This alert has no follow-up case.'),
    'next': N_('Next steps'),
    'your_name': N_('Your name'),
    'name_hint': N_('Kept in the case history, so the team knows who did what.'),
    'owner': N_('Taken by {who}'),
    'cannot_move': N_('Case #{case} is already {status}: it cannot be marked {wanted}.'),
}
CLOSED = ("resolved", "lost", "dismissed")


@dataclass(frozen=True)
class ActionLinks:
    """Makes the signed links of one dispatch run; ``offers``: the actions this server has pages for."""

    base_url: str
    secret: bytes
    expires: datetime
    offers: tuple[str, ...] = (*ACTIONS, REPLY)

    def __call__(self, delivery_id: int, action: str) -> str:
        token = Token(LINK_KIND, str(delivery_id), action, int(self.expires.timestamp()))
        page = "r" if action == REPLY else "a"  # the reply page (listener.replies.page) has its own route
        return f"{self.base_url.rstrip('/')}/{page}/{sign(token, self.secret)}"


def action_links(base_url: str, secret: bytes, now: datetime, valid_days: float) -> ActionLinks:
    return ActionLinks(base_url, secret, now + timedelta(days=valid_days))


@dataclass
class Visit:
    """One request to a link: the link, what it is about, the reader's language and the database."""

    token: Token
    action: str  # "complaint-123" for an item of a near-miss list
    verb: str  # the action proper: "complaint"
    subject: ActionSubject
    lang: str
    zone: ZoneInfo
    db: Database

    def case(self) -> Case | None:
        return find_case(self.db, self.subject.case_id) if self.subject.case_id else None


def actions_blueprint(open_db: Callable, secret: Callable[[], bytes], brands: dict[str, Brand],
                      now: Callable[[], datetime], case_due: Callable[[], datetime], base_url: str) -> Blueprint:
    pages = Blueprint("alert_actions", __name__)

    def load(token_text: str) -> Visit:
        token = verified(token_text, secret(), now(), LINK_KIND)
        verb, _, item = token.value.partition("-")
        if verb not in ACTIONS or not token.public_id.isdigit() or (verb == "complaint") != item.isdigit():
            raise Refusal(bad_link(400))
        db = open_db()
        subject = action_subject(db, int(token.public_id), int(item) if item else None)
        if subject is None:
            db.close()
            raise Refusal(bad_link(404))
        brand = brands.get(subject.brand)
        lang = brand.alert_language if brand else best_language()
        zone = brand.zone if brand else ZoneInfo(DEFAULT_TIMEZONE)
        return Visit(token, token.value, verb, subject, lang, zone, db)

    def next_links(visit: Visit, case: Case | None) -> list[tuple[str, str]]:
        """The case's next steps after ``visit``'s action, as (label, link) for this delivery."""
        if case is None or case.status in CLOSED:
            return []
        steps = [s for s in NEXT_STEPS.get(visit.verb, ()) if not (s == "take" and case.owner)]
        if visit.verb == "complaint":  # the new case's steps come from its own alert, once it is sent
            return []
        text = localized(visit.lang, {s: ASK[s][0] for s in steps})
        return [(text[s], _link(base_url, secret(), visit.token, s)) for s in steps]

    def finished(visit: Visit) -> Response | None:
        """The page of a link that cannot be used any more: used already, or its case is closed."""
        text = localized(visit.lang, TEXT)
        used = action_use(visit.db, visit.subject.delivery_id, visit.action)
        if used is not None:
            return _page(visit, 409, title=text["used_title"],
                         body=text["used"].format(who=used.by, when=local_time(used.at, visit.zone)))
        case = visit.case()
        if visit.verb in ("take", *CASE_MOVES) and case is None:
            return _page(visit, 409, title=text["refused"], body=text["no_case"])
        if visit.verb in ("take", *CASE_MOVES) and case.status in CLOSED:
            last = next((e for e in reversed(history(visit.db, case.id)) if e.event == case.status), None)
            status = localized(visit.lang, STATUS_NAMES)[case.status]
            return _page(visit, 409, title=text["closed_title"], case=case,
                         body=text["closed"].format(case=case.id, status=status, who=(last and last.who) or "-",
                                                    when=local_time(case.updated_at, visit.zone)))
        return None

    @pages.get("/a/<token_text>")
    def confirm(token_text: str):
        visit = load(token_text)
        try:
            refused = finished(visit)
            if refused is not None:
                return refused
            form = Token(FORM_KIND, visit.token.public_id, f"{visit.action}.{secrets.token_urlsafe(12)}",
                         int((now() + timedelta(hours=FORM_VALID_HOURS)).timestamp()))
            title, body, button = localized(visit.lang, dict(enumerate(ASK[visit.verb]))).values()
            case = visit.case()
            return _page(visit, 200, title=title, body=body.format(case=visit.subject.case_id or "-"),
                         quoted=visit.subject.text or "", button=button, form_token=sign(form, secret()),
                         action=f"/a/{token_text}", name=_name_for(visit.subject.target), case=case,
                         owner=case.owner if case else None)
        finally:
            visit.db.close()

    @pages.post("/a/<token_text>")
    def act(token_text: str):
        visit = load(token_text)
        try:
            try:
                form = verify(request.form.get("form_token", ""), secret(), now(), FORM_KIND)
                if form.public_id != visit.token.public_id or form.value.rpartition(".")[0] != visit.action:
                    raise TokenError("form of another link")
            except TokenError:
                return bad_link(400, visit.lang)
            who = one_line(request.form.get("name", ""))[:NAME_CHARS].strip() or visit.subject.target
            with visit.db.atomic():
                refused = finished(visit)
                if refused is not None:
                    return refused
                use_action(visit.db, visit.subject.delivery_id, visit.action, who, iso(now()))
                case_id = _perform(visit.db, visit.verb, visit.subject, who, iso(now()), iso(case_due()))
            case = find_case(visit.db, case_id) if case_id else None
            done = localized(visit.lang, DONE)[visit.verb].format(case=case_id or "-", who=who)
            response = _page(visit, 200, title=localized(visit.lang, TEXT)["done"], body=done,
                             steps=next_links(visit, case), case=case)
            response.set_cookie(NAME_COOKIE, who, max_age=365 * 86400, path="/", httponly=True, samesite="Strict",
                                secure=request.is_secure)
            return response
        except CaseError as exc:
            texts, names = localized(visit.lang, TEXT), localized(visit.lang, STATUS_NAMES)
            body = texts["cannot_move"].format(case=exc.case_id, status=names[exc.status], wanted=names[exc.wanted]) \
                if exc.status else str(exc)
            return _page(visit, 409, title=texts["refused"], body=body)
        finally:
            visit.db.close()

    return pages


def _name_for(target: str) -> str:
    """The name the form suggests: the one this browser gave last time, else the email it was sent to."""
    remembered = request.cookies.get(NAME_COOKIE, "")
    return remembered or (target if "@" in target else "")


def _link(base_url: str, secret: bytes, token: Token, action: str) -> str:
    """Another action's link for the same delivery, valid as long as the one that was used."""
    return f"{base_url.rstrip('/')}/a/{sign(Token(LINK_KIND, token.public_id, action, token.expires), secret)}"


def _perform(db, verb: str, subject: ActionSubject, who: str, now: str, due: str) -> int | None:
    """Do it; the transaction is the caller's. Returns the case the action was about, if any."""
    if verb == "take":
        return assign(db, subject.case_id, who, now).id
    if verb in FEEDBACK:
        label = "unhappy" if verb in ("right", "complaint") else "other"
        correct_label(db, "mention", subject.mention_id, label, who, now, task="detector", via="link")
        if verb == "complaint":
            open_case(db, "mention", subject.mention_id, subject.brand, due, now)
            opened = cases_of(db, [("mention", subject.mention_id)]).get(("mention", subject.mention_id))
            return opened.id if opened else None
        if verb == "right":
            return subject.case_id
    return move(db, subject.case_id, CASE_MOVES[verb], now, who).id


def _page(visit: Visit, status: int, **context) -> Response:
    context.setdefault("t", localized(visit.lang, TEXT))
    return html("action.html", status, visit.lang, ("listener.alerts",), **context)
