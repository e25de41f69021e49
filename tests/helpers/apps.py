"""A small valid configuration in a temporary folder, and an App on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .models import KeywordScorer


def write_config(tmp_path: Path, *, smtp: str = "", extra: str = "", sources: str | None = None) -> Path:
    """A small valid config in tmp_path; ``smtp`` is the body of [alerts.smtp]."""
    sources = sources if sources is not None else ""
    text = f'''
[database]
path = "test.db"

[[brands]]
name = "Caffè Aurora"
keywords = ["Caffè Aurora", "@CaffeAurora"]
exclude = ["aurora boreale"]
alert_language = "it"

[[brands]]
name = "Lanificio Vento"
keywords = ["Lanificio Vento"]
alert_language = "en"
recipients = ["wool@example.com"]

[alerts]
sender = "ascolto@example.com"
recipients = ["cm@example.com"]
retry_seconds = 60
max_retry_seconds = 600

[alerts.smtp]
{smtp}
{extra}
{sources}
'''
    path = tmp_path / "ascolto.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def make_app(tmp_path, clock):
    """``make_app(smtp=..., extra=..., sources=..., **app_options)``: an App on a config written by
    ``write_config``, with the test clock and the keyword scorer unless given; closed after the test."""
    from listener.app import App
    from listener.config import load_config

    apps = []

    def make(*, smtp: str = 'host = ""', extra: str = "", sources: str | None = None, config: Path | None = None,
             **options):
        path = config or write_config(tmp_path, smtp=smtp, extra=extra, sources=sources)
        options.setdefault("now", clock)
        options.setdefault("scorer", KeywordScorer())
        app = App(load_config(path), **options)
        apps.append(app)
        return app

    make.tmp_path = tmp_path
    yield make
    for app in apps:
        app.close()
