"""Serving the survey answer page: the WSGI app wired to our database, and waitress to serve it."""

from __future__ import annotations

import threading

from .app import App
from .store import connect


def survey_wsgi_app(app: App):
    from surveys.web import create_app

    path = app.config.database
    return create_app(app.config.surveys, lambda: connect(path), [b.name for b in app.config.brands], now=app.now)


def start_in_background(app: App):
    """Serve in a daemon thread beside the scheduler (``ascolto run``); returns the server to close."""
    from waitress import create_server

    settings = app.config.surveys
    server = create_server(survey_wsgi_app(app), host=settings.host, port=settings.port, threads=4,
                           ident="ascolto")
    threading.Thread(target=server.run, name="survey-web", daemon=True).start()
    return server
