"""Themes in SQLite: each text's embedding, its themes, the taxonomy they were assigned with, candidate
themes found by discovery, and the rows theme drivers are computed from."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from .database import in_chunks, marks

SUBJECTS = {"mention": ("mention_themes", "mention_id"), "response": ("response_themes", "response_id")}


@dataclass(frozen=True)
class Assigned:
    """One theme of one text."""

    theme: str
    score: float
    similarity: float | None
    keyword: bool


def vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def save_embeddings(db: sqlite_utils.Database, subject: str, ids: Sequence, embeddings: Sequence, model: str) -> None:
    """Keep each text's embedding (float16), so that themes can be assigned again and discovery can
    cluster without a second pass of the model; texts without one are skipped."""
    rows = [{"subject": subject, "subject_id": str(i), "model": model,
             "vector": np.asarray(e, dtype=np.float16).tobytes()}
            for i, e in zip(ids, embeddings, strict=True) if e is not None and len(e)]
    if rows:
        db["text_embeddings"].upsert_all(rows, pk=("subject", "subject_id"))


def save_themes(db: sqlite_utils.Database, subject: str, ids: Sequence, matches: Sequence[Sequence[Assigned]],
                fingerprint: str) -> int:
    """Replace the themes of the texts ``ids``; returns the themes stored."""
    table, key = SUBJECTS[subject]
    for chunk in in_chunks(ids):
        db.execute(f"delete from {table} where {key} in ({marks(chunk)})", chunk)
    rows = [{key: i, "theme": m.theme, "score": m.score, "similarity": m.similarity, "keyword": int(m.keyword),
             "taxonomy": fingerprint} for i, found in zip(ids, matches, strict=True) for m in found]
    if rows:
        db[table].insert_all(rows, pk=(key, "theme"))
    return len(rows)


def themes_of(db: sqlite_utils.Database, subjects) -> dict[tuple[str, str], tuple[str, ...]]:
    """The themes of ``(kind, id)`` pairs ("mention" or "response"), best first, by pair."""
    found: dict[tuple[str, str], list[str]] = {}
    for kind, (table, key) in SUBJECTS.items():
        ids = [subject_id for k, subject_id in subjects if k == kind]
        for chunk in in_chunks(ids):
            for row in db.query(f"select {key} as id, theme from {table} where {key} in ({marks(chunk)}) "
                                "order by score desc", chunk):
                found.setdefault((kind, str(row["id"])), []).append(row["theme"])
    return {subject: tuple(themes) for subject, themes in found.items()}


def stored_fingerprint(db: sqlite_utils.Database) -> str | None:
    """The taxonomy in the ``themes`` table (the copy Datasette's queries read)."""
    return next((r["taxonomy"] for r in db.query("select taxonomy from themes limit 1")), None)


def replace_taxonomy(db: sqlite_utils.Database, rows: Sequence[Mapping]) -> None:
    with db.atomic():
        db.execute("delete from themes")
        db["themes"].insert_all(rows, pk="id")


def stored_texts(db: sqlite_utils.Database) -> int:
    return sum(db.execute(sql).fetchone()[0] for sql in (
        "select count(*) from mentions", "select count(*) from survey_responses where comment is not null"))


@dataclass(frozen=True)
class StoredText:
    id: object  # a mention id (text) or a survey answer id (number)
    text: str
    brand: str
    vector: np.ndarray | None  # its stored embedding, where the given model made it


def all_texts(db: sqlite_utils.Database, model: str, batch: int = 1000) -> Iterator[tuple[str, list[StoredText]]]:
    """(subject, texts), a batch at a time, in storage order."""
    queries = {
        "mention": "select m.rowid as position, m.id, m.text, m.brand, e.vector, e.model from mentions m "
                   "left join text_embeddings e on e.subject = 'mention' and e.subject_id = m.id "
                   "where m.rowid > ? order by m.rowid limit ?",
        "response": "select r.id as position, r.id, r.comment as text, r.brand, e.vector, e.model "
                    "from survey_responses r "
                    "left join text_embeddings e on e.subject = 'response' and e.subject_id = cast(r.id as text) "
                    "where r.id > ? and r.comment is not null order by r.id limit ?",
    }
    for subject, sql in queries.items():
        last = 0
        while rows := [dict(r) for r in db.query(sql, [last, batch])]:
            last = rows[-1]["position"]
            yield subject, [StoredText(r["id"], r["text"] or "", r["brand"],
                                       vector(r["vector"]) if r["vector"] and r["model"] == model else None)
                            for r in rows]


def unmatched_complaints(db: sqlite_utils.Database, brand: str, start: str, end: str) -> tuple[list[str], np.ndarray]:
    """The brand's complaints in [start, end) that have no theme, with their stored embeddings."""
    rows = list(db.query(
        "select m.text, e.vector from mentions m join text_embeddings e on e.subject = 'mention' and e.subject_id = m.id "
        "where m.brand = :brand and m.created_at >= :start and m.created_at < :end "
        "and (m.nps_class = 'detractor' or m.sentiment = 'negative') "
        "and not exists (select 1 from mention_themes t where t.mention_id = m.id) "
        "union all "
        "select r.comment, e.vector from survey_responses r join text_embeddings e on e.subject = 'response' "
        "and e.subject_id = cast(r.id as text) where r.brand = :brand and r.answered_at >= :start "
        "and r.answered_at < :end and r.nps_class = 'detractor' and r.comment is not null "
        "and not exists (select 1 from response_themes t where t.response_id = r.id)",
        {"brand": brand, "start": start, "end": end}))
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    return [r["text"] for r in rows], np.stack([vector(r["vector"]) for r in rows])


def offered_words(db: sqlite_utils.Database, brand: str) -> set[tuple[str, ...]]:
    """The words of every candidate theme already offered for ``brand``."""
    return {tuple(json.loads(r["words"])) for r in db.query("select words from theme_candidates where brand = ?",
                                                            [brand])}


def add_candidates(db: sqlite_utils.Database, rows: Sequence[Mapping]) -> None:
    if rows:
        db["theme_candidates"].insert_all(rows)


def new_candidates(db: sqlite_utils.Database, brand: str, limit: int = 5) -> list[dict]:
    return [dict(r) for r in db.query("select id, size, words, examples, found_at from theme_candidates "
                                      "where brand = ? and status = 'new' order by found_at desc, size desc limit ?",
                                      [brand, limit])]


# ---- what drivers are computed from ----------------------------------------------------------------

def _themes_by(table: str, key: str) -> str:
    return f"(select group_concat(theme, ' ') from {table} t where t.{key} = x.id)"


def answers_with_themes(db: sqlite_utils.Database, brand: str, start: str, end: str) -> list[tuple[str, frozenset]]:
    """(NPS class, themes) of each survey answer of the brand in [start, end)."""
    rows = db.query(f"select x.nps_class, {_themes_by('response_themes', 'response_id')} as themes "
                    "from survey_responses x where x.brand = ? and x.answered_at >= ? and x.answered_at < ?",
                    [brand, start, end])
    return [(r["nps_class"], frozenset((r["themes"] or "").split())) for r in rows]


def mentions_with_themes(db: sqlite_utils.Database, brand: str, start: str, end: str) -> list[tuple[str, frozenset]]:
    """(sentiment, themes) of each mention of the brand posted in [start, end)."""
    rows = db.query(f"select x.sentiment, {_themes_by('mention_themes', 'mention_id')} as themes "
                    "from mentions x where x.brand = ? and x.created_at >= ? and x.created_at < ?",
                    [brand, start, end])
    return [(r["sentiment"], frozenset((r["themes"] or "").split())) for r in rows]


def detractor_comments_by_theme(db: sqlite_utils.Database, brand: str, start: str, end: str
                                ) -> list[tuple[str, str]]:
    """(theme, comment) of the brand's detractors in [start, end), the best fit of each theme first."""
    return [(r["theme"], r["comment"]) for r in db.query(
        "select t.theme, r.comment from response_themes t join survey_responses r on r.id = t.response_id "
        "where r.brand = ? and r.answered_at >= ? and r.answered_at < ? and r.nps_class = 'detractor' "
        "order by t.theme, t.score desc", [brand, start, end])]
