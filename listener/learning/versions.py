"""Model versions: the one this release ships, those retrained on the team's corrections, which one is
active, and rolling back. ``ascolto sentiment history`` lists them; ``ascolto sentiment use`` chooses."""

from __future__ import annotations

import logging
from pathlib import Path

from listener.alerts.outbox import NOTICE_ALERT, enqueue
from sentiment.errors import SentimentError
from sentiment.runtime.model_file import Heads

log = logging.getLogger(__name__)


def models_dir(config) -> Path:
    return config.learning.models_dir or config.database.with_name(config.database.stem + "-models")


def active_version(db) -> dict | None:
    return next(db.query("select * from model_versions where status = 'active' order by id desc limit 1"), None)


def history(db) -> list[dict]:
    return list(db.query("select * from model_versions order by id"))


def register_shipped(db, name: str, head_file: Path, now: str) -> None:
    """The version this release of Ascolto ships, recorded once so that a later version can be compared
    and rolled back to it. A release that ships a new model makes it the active one: versions
    retrained from the old one are kept in the list (their heads belong to the old encoder)."""
    with db.atomic():
        if db.execute("select count(*) from model_versions where name = ?", [name]).fetchone()[0]:
            return
        upgrade = db.execute("select count(*) from model_versions").fetchone()[0] > 0
        if upgrade:
            db.execute("update model_versions set status = 'kept' where status = 'active'")
            log.info("model: %s ships with this release and becomes the active version", name)
        db["model_versions"].insert({"name": name, "created_at": now, "head_file": str(head_file), "status": "active",
                                     "reason": "shipped with Ascolto" + (" (a new release's model)" if upgrade else "")})


def use(db, name: str) -> dict:
    """Make ``name`` the active version (a roll-back, or a version refused earlier, by a person's choice)."""
    version = next(db.query("select * from model_versions where name = ?", [name]), None)
    if version is None:
        known = ", ".join(v["name"] for v in history(db)) or "none yet"
        raise SentimentError(f"no model version {name!r}; versions: {known}")
    check_file(Path(version["head_file"]))
    with db.atomic():
        db.execute("update model_versions set status = 'kept' where status = 'active'")
        db.execute("update model_versions set status = 'active' where id = ?", [version["id"]])
    return version


def check_file(head_file: Path) -> None:
    """A version's file must load, heads and detector: otherwise it is not used."""
    Heads.load(head_file)


def usable_head(db, fallback: Path, routes, now: str) -> Path:
    """The active version's head file; a missing or unreadable one keeps the shipped head, marks the
    version broken and raises one notice alert."""
    version = active_version(db)
    if version is None or Path(version["head_file"]) == fallback:
        return fallback
    try:
        check_file(Path(version["head_file"]))
        return Path(version["head_file"])
    except SentimentError as exc:
        log.error("model version %s is unusable (%s); using the shipped model", version["name"], exc)
        with db.atomic():
            db.execute("update model_versions set status = 'broken', reason = ? where id = ?", [str(exc)[:500],
                                                                                                 version["id"]])
            enqueue(db, NOTICE_ALERT, f"model:{version['name']}:broken", routes, now, details={
                "title": f"Model version {version['name']} is unusable: the shipped model scores instead",
                "body": f"{exc}\n\nAscolto scores with the shipped model until another version is chosen "
                        f"(ascolto sentiment history; ascolto sentiment use NAME)."})
        return fallback


