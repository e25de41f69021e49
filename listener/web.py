"""The web pages: survey answers and the orders endpoint (surveys), and the actions of alert links,
in one WSGI app served by waitress."""

from __future__ import annotations

import logging
import threading

from listener.kernel.errors import AscoltoError
from listener.kernel.pages import SECURITY_HEADERS, web_app
from listener.kernel.secrets import signing_secret
from listener.store.database import connect

from .app import App


def wsgi_app(app: App):
    from surveys.web import MAX_BODY_BYTES, survey_blueprint

    from .alerts.actions import actions_blueprint
    from .alerts.messages import platform
    from .replies.page import reply_blueprint

    path, web = app.config.database, app.config.web
    open_db = lambda: connect(path)  # noqa: E731 - one connection per request
    secret = lambda: signing_secret(web.secret_env)  # noqa: E731 - read per request: a rotated secret applies
    blueprints = [actions_blueprint(open_db, secret, app.config.brand_by_name, app.now, app.case_due, web.base_url),
                  reply_blueprint(open_db, secret, app.config, app.now, lambda: app.mailer, platform)]
    if app.config.surveys is not None:
        blueprints.append(survey_blueprint(app.config.surveys, open_db, [b.name for b in app.config.brands],
                                           app.now, {b.name: b.review_url for b in app.config.brands if b.review_url}))
    return web_app(blueprints, MAX_BODY_BYTES)


def make_server(app: App, host: str, port: int):
    """waitress serving the web app, its own error answers (a malformed request: 400; a body over its
    limit: 413) with the same security headers as the app's pages."""
    from waitress import create_server
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class SecureErrorTask(ErrorTask):
        def execute(self):
            # ErrorTask.execute with our headers added before the first write sends the head.
            status, headers, body = self.request.error.to_response(self.channel.server.adj.ident)
            self.status = status
            self.response_headers.extend(headers + list(SECURITY_HEADERS.items()))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class SecureChannel(HTTPChannel):
        error_task_class = SecureErrorTask

    # A burst of requests queues for the 4 threads; waitress logs one warning per queued request,
    # thousands of lines that say nothing the access pattern does not. Real errors still show.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    try:
        server = create_server(wsgi_app(app), host=host, port=port, threads=4, ident="ascolto")
    except OSError as exc:
        raise AscoltoError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.channel_class = SecureChannel  # read on each accepted connection
    return server


def start_in_background(app: App):
    """Serve in a daemon thread beside the scheduler (``ascolto run``); returns the server to close."""
    server = make_server(app, app.config.web.host, app.config.web.port)
    threading.Thread(target=server.run, name="web", daemon=True).start()
    return server
