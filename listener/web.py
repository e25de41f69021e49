"""The web pages: survey answers and the orders endpoint (surveys), and the actions of alert links,
in one WSGI app served by waitress."""

from __future__ import annotations

import threading

from listener.kernel.errors import AscoltoError
from listener.kernel.pages import web_app
from listener.kernel.secrets import signing_secret
from listener.store.database import connect

from .app import App


def wsgi_app(app: App):
    from surveys.web import MAX_BODY_BYTES, survey_blueprint

    from .alerts.actions import actions_blueprint

    path, web = app.config.database, app.config.web
    open_db = lambda: connect(path)  # noqa: E731 - one connection per request
    blueprints = [actions_blueprint(open_db, lambda: signing_secret(web.secret_env), app.config.brand_by_name,
                                    app.now, app.case_due, web.base_url)]
    if app.config.surveys is not None:
        blueprints.append(survey_blueprint(app.config.surveys, open_db, [b.name for b in app.config.brands],
                                           app.now))
    return web_app(blueprints, MAX_BODY_BYTES)


def start_in_background(app: App):
    """Serve in a daemon thread beside the scheduler (``ascolto run``); returns the server to close."""
    from waitress import create_server

    web = app.config.web
    try:
        server = create_server(wsgi_app(app), host=web.host, port=web.port, threads=4, ident="ascolto")
    except OSError as exc:
        raise AscoltoError(f"cannot listen on {web.host}:{web.port}: {exc.strerror or exc}") from None
    threading.Thread(target=server.run, name="web", daemon=True).start()
    return server
