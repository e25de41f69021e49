"""Model versions (the shipped one, those retrained on the team's corrections, which one is active),
the corrections they learn from, and the near misses the team is shown to correct."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import sqlite_utils


@dataclass(frozen=True)
class ModelVersion:
    id: int
    name: str
    created_at: str
    parent: str | None
    head_file: str
    status: str  # active, kept, refused, broken
    corrections: int | None
    trained_on: str | None  # JSON: texts per task
    validation: str | None  # JSON: the gate's checks, old and new
    reason: str | None


def _version(row) -> ModelVersion:
    return ModelVersion(**{f.name: row[f.name] for f in fields(ModelVersion)})


def active_version(db: sqlite_utils.Database) -> ModelVersion | None:
    row = next(db.query("select * from model_versions where status = 'active' order by id desc limit 1"), None)
    return _version(row) if row else None


def versions(db: sqlite_utils.Database) -> list[ModelVersion]:
    return [_version(row) for row in db.query("select * from model_versions order by id")]


def find_version(db: sqlite_utils.Database, name: str) -> ModelVersion | None:
    row = next(db.query("select * from model_versions where name = ?", [name]), None)
    return _version(row) if row else None


def add_version(db: sqlite_utils.Database, *, name: str, created_at: str, head_file: str, status: str, reason: str,
                parent: str | None = None, corrections: int | None = None, trained_on: str | None = None,
                validation: str | None = None) -> None:
    """Record a version; an active one replaces the active version (kept, for roll-backs). The caller
    holds the transaction."""
    if status == "active":
        db.execute("update model_versions set status = 'kept' where status = 'active'")
    db["model_versions"].insert({"name": name, "created_at": created_at, "parent": parent, "head_file": head_file,
                                 "status": status, "corrections": corrections, "trained_on": trained_on,
                                 "validation": validation, "reason": reason})


def activate(db: sqlite_utils.Database, version_id: int) -> None:
    db.execute("update model_versions set status = 'kept' where status = 'active'")
    db.execute("update model_versions set status = 'active' where id = ?", [version_id])


def mark_broken(db: sqlite_utils.Database, version_id: int, reason: str) -> None:
    db.execute("update model_versions set status = 'broken', reason = ? where id = ?", [reason[:500], version_id])


def retrained_count(db: sqlite_utils.Database) -> int:
    return db.execute("select count(*) from model_versions where parent is not null").fetchone()[0]


@dataclass(frozen=True)
class AlertShare:
    mentions: int
    alerted: int  # by the detector (not by a star rating, which no model decides)

    @property
    def share(self) -> float:
        return self.alerted / self.mentions if self.mentions else 0.0


def alert_share(db: sqlite_utils.Database, since: str, until: str) -> AlertShare:
    """The mentions collected in [since, until), and how many of them the detector alerted on."""
    row = db.execute("select count(*), coalesce(sum(nps_class = 'detractor' and alert_rule = 'detector'), 0) "
                     "from mentions where collected_at >= ? and collected_at < ?", [since, until]).fetchone()
    return AlertShare(*row)


def replay_texts(db: sqlite_utils.Database, limit: int) -> list[tuple[str, str | None, int | None]]:
    """(text, language, stars) of the latest distinct mention texts, newest first: what a retrained model
    must keep doing (the stars say which are reviews)."""
    return [(row[0], row[1], row[2]) for row in db.execute(
        "select text, max(lang), max(rating) from mentions where length(trim(text)) > 0 group by text "
        "order by max(collected_at) desc, max(rowid) desc limit ?", [limit])]


# ---- corrections -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Correction:
    id: int
    task: str  # sentiment or detector
    kind: str  # mention or response
    subject_id: str
    text: str
    label: str
    model_label: str | None
    author: str | None
    via: str | None
    created_at: str
    lang: str | None  # the mention's language, where the text is a mention
    rating: int | None = None  # the mention's stars, where it has them (a review)


def corrections(db: sqlite_utils.Database, since: str = "") -> list[Correction]:
    """Every correction made after ``since`` (ISO time), oldest first, with its mention's language and
    stars."""
    return [Correction(**row) for row in db.query(
        "select c.id, c.task, c.kind, c.subject_id, c.text, c.label, c.model_label, c.author, c.via, c.created_at, "
        "m.lang, m.rating from corrections c left join mentions m on c.kind = 'mention' and m.id = c.subject_id "
        "where c.created_at > ? order by c.id", [since])]


def correction_pairs(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(text, label) of every correction, oldest first: for training a head on them."""
    return [tuple(row) for row in db.execute("select text, label from corrections order by id").fetchall()]


# ---- near misses -------------------------------------------------------------------------------

@dataclass(frozen=True)
class NearMiss:
    rowid: int  # the mention's row id: its "this is a complaint" link names it
    id: str
    author: str | None
    source: str
    text: str
    url: str | None
    created_at: str
    p_unhappy: float
    threshold: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Alerted:
    id: str
    text: str


def alerted_mentions(db: sqlite_utils.Database, brand: str, since: str, until: str) -> list[Alerted]:
    """Mentions collected in [since, until) that raised an alert, oldest first."""
    return [Alerted(**row) for row in db.query(
        "select id, text from mentions where brand = ? and collected_at >= ? and collected_at < ? "
        "and alert_rule is not null order by rowid", [brand, since, until])]


def near_misses(db: sqlite_utils.Database, brand: str, since: str, until: str, share: float, limit: int
                ) -> list[NearMiss]:
    """Mentions collected in [since, until) that did not alert but came close: at least ``share`` of
    their threshold, the closest first."""
    return [NearMiss(**row) for row in db.query(
        "select rowid, id, author, source, text, url, created_at, p_unhappy, alert_threshold as threshold "
        "from mentions where brand = ? and collected_at >= ? and collected_at < ? and nps_class != 'detractor' "
        "and alert_threshold is not null and p_unhappy >= ? * alert_threshold "
        "order by p_unhappy / alert_threshold desc limit ?", [brand, since, until, share, limit])]
