"""What every command shares: the --config option, the App, one-line errors, a progress bar.

Library code raises small domain exceptions; ``friendly`` is the one place that turns them into one
``Error:`` line and exit status 1, with no traceback.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

from listener.kernel.errors import AscoltoError
from listener.kernel.times import iso, utc_now
from sentiment.errors import SentimentError

DEFAULT_CONFIG = "ascolto.toml"
EXPECTED_FAILURES = (AscoltoError, SentimentError)  # SurveyError is an AscoltoError


def friendly(command):
    """Expected failures (bad config, missing credential, unreadable file) become one line and exit 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EXPECTED_FAILURES as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def config_option(required: bool = True):
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
        envvar="ASCOLTO_CONFIG", default=DEFAULT_CONFIG if required else None, show_default=required,
        help="Configuration file (TOML); also $ASCOLTO_CONFIG.",
    )


@dataclass(frozen=True)
class World:
    """What a command takes from outside the program: the clock. The root group makes one with the
    real clock; tests invoke the CLI with ``obj=World(now=their_clock)``, so that no command a test
    runs reads the real time."""

    now: Callable[[], datetime] = utc_now


def world() -> World:
    context = click.get_current_context(silent=True)
    found = context.find_object(World) if context is not None else None
    return found or World()


def open_app(config_path: Path, *, require_secrets: bool = True):
    """The App of this configuration; ``require_secrets=False`` for commands that send nothing (a
    missing SMTP password must not stop a team from reading its alerts or serving its pages)."""
    from ..app import App
    from ..config import load_config

    return App(load_config(config_path, require_secrets=require_secrets), now=world().now)


def model_settings(config_path: Path | None):
    """The configured model, or the default one when no configuration is given."""
    from sentiment.runtime.loading import ModelSettings

    from ..config import load_config

    return load_config(config_path, require_secrets=False).model if config_path else ModelSettings()


def now_iso(app) -> str:
    return iso(app.now())


def check_brand(config, brand: str | None, config_path: Path) -> None:
    """A --brand option must name a configured brand."""
    if brand is not None and brand not in config.brand_by_name:
        raise AscoltoError(f"--brand: no brand named {brand!r} in {config_path}")


def surveys_settings(app, config_path: Path):
    if app.config.surveys is None:
        raise AscoltoError(f"{config_path}: surveys: no [surveys] table (see config/ascolto.example.toml)")
    return app.config.surveys


@contextlib.contextmanager
def progress(length: int, label: str):
    """A progress bar on a terminal (a backfill can take minutes); nothing in logs and pipes."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update
