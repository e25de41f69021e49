"""The answer page customers reach from the invitation email (Flask; served by waitress).

The scanner rule: mail security scanners open (GET) every link in an email, so opening a link never
records an answer. A GET shows the page with the link's score selected and notes the visit on the
invitation (``opened``). The answer counts only when a person presses Send: a POST that carries a
single-use form token minted for that page view. A replayed POST (same form token) is refused, and
a form whose hidden honeypot field is filled (bots fill every field) is thanked and dropped.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from listener.kernel.i18n import N_, localized
from listener.kernel.pages import Refusal, bad_link, best_language, html, notice, verified
from listener.kernel.signing import Token, TokenError, sign, verify
from listener.kernel.times import iso, utc_now
from listener.store import surveys as store

from .errors import BadRow
from .nps import PROMOTER, nps_class
from .orders import order_from_row, save_order
from .responses import parse_score, record_answer
from .settings import SurveySettings

FORM_VALID_HOURS = 24
MAX_BODY_BYTES = 32 * 1024

PAGE_TEXT = {
    'title': N_('Your opinion'),
    'question': N_('How likely are you to recommend {brand} to a friend or colleague?'),
    'scale_low': N_('not at all likely'),
    'scale_high': N_('extremely likely'),
    'reason': N_('What is the main reason for your score?'),
    'optional': N_('(optional)'),
    'send': N_('Send'),
    'thanks_title': N_('Thank you!'),
    'thanks': N_('We have your score ({score}). You can change it with the same link from the email.'),
    'thanks_detractor': N_("We have your score ({score}), and we're sorry. Someone from {brand} will get back to "
                           "you soon."),
    'thanks_passive': N_('We have your score ({score}): thank you, it helps {brand} do better.'),
    'thanks_promoter': N_('We have your score ({score}): thank you, it means a lot to {brand}.'),
    'review': N_('Tell others too: leave a review'),
    'expired_title': N_('Link expired'),
    'expired': N_('This survey is closed. Thank you for your time all the same.'),
    'replayed_title': N_('Answer already sent'),
    'replayed': N_('This form was already sent. To change your answer, open the link from the email again.'),
    'too_long_title': N_('Too long'),
    'too_long': N_('The comment is too long (at most {limit} characters).'),
    'invalid_score': N_('Please choose a score from 0 to 10.'),
    'unsub_title': N_('Unsubscribe'),
    'unsub_question': N_("Don't want surveys from {brand} any more?"),
    'unsub_button': N_('Unsubscribe'),
    'unsub_done_title': N_('Unsubscribed'),
    'unsub_done': N_('Done: you will not receive surveys from {brand} again.'),
}


def survey_blueprint(settings: SurveySettings, open_db: Callable, brands: list[str],
                     now: Callable[[], datetime] = utc_now, review_links: Mapping[str, str] | None = None) -> Blueprint:
    """The survey pages, the unsubscribe page and the orders endpoint. ``open_db`` gives a database
    connection for one request (SQLite, WAL); ``review_links``: brand -> where a promoter may leave a
    public review (offered on the thank-you page)."""
    pages = _survey_routes(settings, open_db, brands, now, review_links or {})

    @pages.app_errorhandler(413)
    def too_large(_error):
        if request.path.startswith("/api/"):
            return _json({"error": f"request body over {MAX_BODY_BYTES // 1024} kB"}, 413)
        return message("too_long", 413, best_language(), limit=settings.max_comment_chars)

    return pages


def page(template: str, status: int, lang: str, **context) -> Response:
    return html(template, status, lang, ("surveys",), t=localized(lang, PAGE_TEXT), **context)


def message(kind: str, status: int, lang: str, **fields) -> Response:
    text = localized(lang, PAGE_TEXT)
    return notice(text[f"{kind}_title"], text[kind].format(**fields), status, lang)


def thanks(brand: str, score: int, lang: str, review_link: str | None) -> Response:
    """Thanks in words that fit the score: a detractor hears that someone will answer (an alert and a
    case were opened), a promoter is offered the brand's review page where it has one."""
    text = localized(lang, PAGE_TEXT)
    kind = nps_class(score)
    link = (review_link, text["review"]) if kind == PROMOTER and review_link else None
    return notice(text["thanks_title"], text[f"thanks_{kind}"].format(score=score, brand=brand), 200, lang, link)


def closed(lang: str) -> Response:
    return message("expired", 410, lang)


def _survey_routes(settings: SurveySettings, open_db: Callable, brands: list[str], now: Callable[[], datetime],
                   review_links: Mapping[str, str]):
    app = Blueprint("surveys", __name__)

    def load(token_text: str, kind: str):
        """(token, invitation, db) for a genuine, unexpired token; else the request ends with a page."""
        token = verified(token_text, settings.secret(), now(), kind, closed)
        db = open_db()
        invitation = store.invitation_by_public_id(db, token.public_id)
        if invitation is None:  # a genuine token for a deleted invitation
            db.close()
            raise Refusal(bad_link(404))
        return token, invitation, db

    @app.get("/s/<token_text>")
    def survey_page(token_text: str):
        token, invitation, db = load(token_text, "s")
        try:
            score = parse_score(token.value)  # signed by us, so always 0-10; an old or odd link is refused
        except BadRow:
            db.close()
            return bad_link(400, invitation.lang)
        with db.atomic():
            store.note_opened(db, invitation.id, score, iso(now()))
        previous = store.previous_comment(db, invitation.id)
        db.close()
        return survey_form(invitation, token_text, score, previous or "", None, 200)

    def survey_form(invitation, token_text, score, comment, error, status):
        form = Token("f", invitation.public_id, secrets.token_urlsafe(12),
                     int((now() + timedelta(hours=FORM_VALID_HOURS)).timestamp()))
        lang = invitation.lang
        return page("survey.html", status, lang, brand=invitation.brand, score=score, comment=comment or "",
                    form_token=sign(form, settings.secret()), action=f"/s/{token_text}", error=error,
                    limit=settings.max_comment_chars,
                    question=localized(lang, PAGE_TEXT)["question"].format(brand=invitation.brand))

    @app.post("/s/<token_text>")
    def survey_answer(token_text: str):
        _token, invitation, db = load(token_text, "s")
        lang = invitation.lang
        try:
            form = verify(request.form.get("form_token", ""), settings.secret(), now(), "f")
            if form.public_id != invitation.public_id:
                raise TokenError("form of another invitation")
        except TokenError:
            db.close()
            return bad_link(400, lang)
        comment = request.form.get("comment", "").strip()
        try:
            score = parse_score(request.form.get("score"))
        except BadRow:
            db.close()
            return survey_form(invitation, token_text, None, comment, localized(lang, PAGE_TEXT)["invalid_score"], 422)
        if len(comment) > settings.max_comment_chars:
            db.close()
            return survey_form(invitation, token_text, score, comment[: settings.max_comment_chars],
                               localized(lang, PAGE_TEXT)["too_long"].format(limit=settings.max_comment_chars), 413)
        with db.atomic():
            used = store.use_form_token(db, form.value, invitation.id, iso(now()))
            if used and not request.form.get("website"):  # the honeypot: people never see it
                record_answer(db, invitation, score, comment, iso(now()))
        db.close()
        if not used:
            return message("replayed", 409, lang)
        return thanks(invitation.brand, score, lang, review_links.get(invitation.brand))

    @app.get("/u/<token_text>")
    def unsubscribe_page(token_text: str):
        _token, invitation, db = load(token_text, "u")
        db.close()
        lang = invitation.lang
        if invitation.unsubscribed_at:
            return message("unsub_done", 200, lang, brand=invitation.brand)
        return page("unsubscribe.html", 200, lang, brand=invitation.brand, action=f"/u/{token_text}",
                    question=localized(lang, PAGE_TEXT)["unsub_question"].format(brand=invitation.brand))

    @app.post("/u/<token_text>")
    def unsubscribe_now(token_text: str):
        """The page's button, and RFC 8058 one-click POSTs from mail clients."""
        _token, invitation, db = load(token_text, "u")
        with db.atomic():
            store.unsubscribe(db, invitation.customer_id, iso(now()))
        db.close()
        return message("unsub_done", 200, invitation.lang, brand=invitation.brand)

    @app.post("/api/orders")
    def orders_endpoint():
        expected = settings.orders_secret()
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not hmac.compare_digest(given.encode(), expected):
            return _json({"error": "unauthorized"}, 401)
        try:
            order = order_from_row(request.get_json(force=True, silent=False) or {}, brands)
        except BadRow as exc:
            return _json({"error": str(exc)}, 400)
        except RequestEntityTooLarge:
            raise  # answered 413 by the app's handler
        except (BadRequest, AttributeError, TypeError):  # not JSON, or not an object
            return _json({"error": "expected a JSON object"}, 400)
        db = open_db()
        with db.atomic():
            new = save_order(db, order, iso(now()), "api")
        db.close()
        return _json({"order_ref": order.order_ref, "new": new}, 201 if new else 200)

    return app


def _json(doc: Mapping, status: int) -> Response:
    return Response(json.dumps(doc) + "\n", status=status, content_type="application/json")
