"""The pages people reach from signed links (the survey, the actions of an alert, the reply page) and
the one WSGI app that serves them: the same security headers on every answer, the reader's language,
and one friendly refusal of a forged, tampered or expired link.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from flask import Blueprint, Flask, Response, request

from .errors import MissingCredential
from .i18n import N_, localized
from .signing import Token, TokenError, TokenExpired, verify
from .templating import environment

SECURITY_HEADERS = {
    # No scripts, no external anything; the links carry tokens, so no Referer and no caching.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}

LINK_TEXT = {
    'bad_title': N_('Link not valid'),
    'bad': N_('This link is not valid. Please use the link from the email exactly as it is.'),
    'expired_title': N_('Link expired'),
    'expired': N_('This link has expired.'),
}


class Refusal(Exception):
    """Ends a request with a ready page (a bad or expired link)."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def best_language() -> str:
    """The request's language, for a page that knows nothing else about its reader (a bad link)."""
    return request.accept_languages.best_match(["it", "en"]) or "it"


def html(template: str, status: int, lang: str, packages: tuple[str, ...] = (), **context) -> Response:
    """A page of ``packages``' templates (then the kernel's), in ``lang``, with the security headers."""
    body = environment(lang, *packages).get_template(template).render(lang=lang, **context)
    return Response(body, status=status, headers=SECURITY_HEADERS, content_type="text/html; charset=utf-8")


def notice(title: str, body: str, status: int, lang: str, link: tuple[str, str] | None = None) -> Response:
    """A page that only says something: a title and a sentence (and a link to go on: (url, label))."""
    return html("message.html", status, lang, ("listener.kernel",), title=title, body=body, link=link)


def bad_link(status: int, lang: str | None = None, kind: str = "bad") -> Response:
    text = localized(lang or best_language(), LINK_TEXT)
    return notice(text[f"{kind}_title"], text[kind], status, lang or best_language())


def verified(token_text: str, secret: bytes, now: datetime, kind: str,
             expired: Callable[[str], Response] | None = None) -> Token:
    """The token of a link; a forged, tampered or expired one ends the request with a friendly page
    (``expired``: the page a closed link shows instead of the generic one, in the reader's language)."""
    try:
        return verify(token_text, secret, now, kind)
    except TokenExpired:
        lang = best_language()
        raise Refusal(expired(lang) if expired else bad_link(410, lang, "expired")) from None
    except TokenError:
        raise Refusal(bad_link(400)) from None


def web_app(blueprints: Sequence[Blueprint], max_body_bytes: int) -> Flask:
    """The WSGI app of ``blueprints``: every answer, pages, JSON and Flask's own 404/405/413 alike, carries
    the security headers; a link the server cannot sign for (no secret) answers 503, logged once per
    request; ``/healthz`` answers ok."""
    app = Flask("ascolto")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes

    @app.errorhandler(Refusal)
    def refused(refusal: Refusal):
        return refusal.response

    @app.after_request
    def secure(response: Response) -> Response:
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    @app.errorhandler(MissingCredential)
    def not_configured(error):
        app.logger.error("%s", error)
        return Response("Links are not configured on this server.\n", status=503, content_type="text/plain")

    @app.get("/healthz")
    def health():
        return Response("ok\n", content_type="text/plain")

    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
