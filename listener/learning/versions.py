"""Model versions: the one this release ships, those retrained on the team's corrections, which one is
active, and rolling back. ``ascolto sentiment history`` lists them; ``ascolto sentiment use`` chooses."""

from __future__ import annotations

import logging
from pathlib import Path

from listener.alerts.kinds import NOTICE_ALERT
from listener.alerts.notices import notice
from listener.store import models
from listener.store.alerts import enqueue
from listener.store.models import ModelVersion
from sentiment.errors import SentimentError
from sentiment.runtime.model_file import Heads

log = logging.getLogger(__name__)


def models_dir(config) -> Path:
    return config.learning.models_dir or config.database.with_name(config.database.stem + "-models")


def register_shipped(db, name: str, head_file: Path, now: str) -> None:
    """The version this release of Ascolto ships, recorded once so that a later version can be compared
    and rolled back to it. A release that ships a new model makes it the active one: versions
    retrained from the old one are kept in the list (their heads belong to the old encoder)."""
    with db.atomic():
        if models.find_version(db, name) is not None:
            return
        upgrade = bool(models.versions(db))
        if upgrade:
            log.info("model: %s ships with this release and becomes the active version", name)
        models.add_version(db, name=name, created_at=now, head_file=str(head_file), status="active",
                           reason="shipped with Ascolto" + (" (a new release's model)" if upgrade else ""))


def use(db, name: str) -> ModelVersion:
    """Make ``name`` the active version (a roll-back, or a version refused earlier, by a person's choice)."""
    version = models.find_version(db, name)
    if version is None:
        known = ", ".join(v.name for v in models.versions(db)) or "none yet"
        raise SentimentError(f"no model version {name!r}; versions: {known}")
    check_file(Path(version.head_file))
    with db.atomic():
        models.activate(db, version.id)
    return version


def check_file(head_file: Path) -> None:
    """A version's file must load, heads and detector: otherwise it is not used."""
    Heads.load(head_file)


def usable_head(db, fallback: Path, routes, now: str) -> Path:
    """The active version's head file; a missing or unreadable one keeps the shipped head, marks the
    version broken and raises one notice alert."""
    version = models.active_version(db)
    if version is None or Path(version.head_file) == fallback:
        return fallback
    try:
        check_file(Path(version.head_file))
        return Path(version.head_file)
    except SentimentError as exc:
        log.error("model version %s is unusable (%s); using the shipped model", version.name, exc)
        with db.atomic():
            models.mark_broken(db, version.id, str(exc))
            enqueue(db, NOTICE_ALERT, f"model:{version.name}:broken", routes, now,
                    details=notice("model_broken", version=version.name, problem=str(exc)))
        return fallback


