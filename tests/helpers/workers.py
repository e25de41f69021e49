"""Jobs run in a separate process, as a second writer would be: ``python -m helpers.workers KIND CONFIG``.

They use the keyword scorer (no model to load), so that a concurrency test measures the database,
not torch's start-up. Each prints one JSON line with what it did.
"""

from __future__ import annotations

import json
import sys

from helpers.models import KeywordScorer


def main(kind: str, config_path: str) -> None:
    from listener.app import App
    from listener.cli.run import run_once
    from listener.config import load_config

    app = App(load_config(config_path), scorer=KeywordScorer())
    if kind == "dispatch":  # `ascolto alerts send`
        from listener.jobs.dispatch import run_dispatch

        result = run_dispatch(app)
        print(json.dumps({"sent": result.sent, "messages": result.messages, "failed": result.failed}))
        app.close()
    elif kind == "invite":  # the survey sender of `ascolto surveys send`
        from listener.jobs.surveys import run_invitations

        counts = run_invitations(app)
        print(json.dumps({"sent": counts.sent, "error": counts.error}))
        app.close()
    elif kind == "import":
        from listener.jobs.collect import run_source

        result = run_source(app, app.config.sources[0])
        print(json.dumps({"status": result.status, "new": result.counts.new, "message": result.message}))
        app.close()
    else:
        run_once(app)  # prints the summary and closes the app


if __name__ == "__main__":
    main(*sys.argv[1:3])
