"""Themes in SQLite: each text's embedding, its themes, and the taxonomy they were assigned with.

``record`` runs inside the transaction that stores the texts (a mention and its themes commit
together); ``sync_taxonomy`` and ``reassign`` bring stored texts up to a changed taxonomy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence

import numpy as np
import sqlite_utils

from listener.store.mentions import get_cursor, set_cursor

from .matching import Match, ThemeMatcher
from .taxonomy import Taxonomy

log = logging.getLogger(__name__)

SUBJECTS = {"mention": ("mention_themes", "mention_id"), "response": ("response_themes", "response_id")}
TAXONOMY_KEY = ("themes", "taxonomy")  # (source, query) in the cursors table: the fingerprint assigned with


def record(db: sqlite_utils.Database, subject: str, ids: Sequence, texts: Sequence[str], embeddings: Sequence,
           brands: Sequence[str | None], matcher: ThemeMatcher, model: str) -> int:
    """Store the texts' embeddings and themes (replacing earlier ones); returns the themes stored."""
    save_embeddings(db, subject, ids, embeddings, model)
    return save_themes(db, subject, ids, matcher.assign(texts, embeddings, brands), matcher.taxonomy.fingerprint)


def save_embeddings(db: sqlite_utils.Database, subject: str, ids: Sequence, embeddings: Sequence, model: str) -> None:
    rows = [{"subject": subject, "subject_id": str(i), "model": model,
             "vector": np.asarray(e, dtype=np.float16).tobytes()}
            for i, e in zip(ids, embeddings, strict=True) if e is not None and len(e)]
    if rows:
        db["text_embeddings"].upsert_all(rows, pk=("subject", "subject_id"))


def save_themes(db: sqlite_utils.Database, subject: str, ids: Sequence, matches: Sequence[Sequence[Match]],
                fingerprint: str) -> int:
    table, key = SUBJECTS[subject]
    ids = list(ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.execute(f"delete from {table} where {key} in ({','.join('?' * len(chunk))})", chunk)
    rows = [{key: i, "theme": m.theme, "score": m.score, "similarity": m.similarity, "keyword": int(m.keyword),
             "taxonomy": fingerprint} for i, found in zip(ids, matches, strict=True) for m in found]
    if rows:
        db[table].insert_all(rows, pk=(key, "theme"))
    return len(rows)


def vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def sync_taxonomy(db: sqlite_utils.Database, taxonomy: Taxonomy) -> bool:
    """Copy the taxonomy into the ``themes`` table; True when it differs from the one texts were
    assigned with (they then need ``reassign``)."""
    current = [r["taxonomy"] for r in db.query("select taxonomy from themes limit 1")]
    if current != [taxonomy.fingerprint]:
        with db.atomic():
            db.execute("delete from themes")
            db["themes"].insert_all([{
                "id": t.id, "name_it": t.label("it"), "name_en": t.label("en"),
                "description_it": t.description.get("it"), "description_en": t.description.get("en"),
                "keywords": json.dumps(list(t.keywords), ensure_ascii=False), "brands": json.dumps(list(t.brands)),
                "taxonomy": taxonomy.fingerprint} for t in taxonomy], pk="id")
    return get_cursor(db, *TAXONOMY_KEY) != taxonomy.fingerprint


def reassign(db: sqlite_utils.Database, matcher: ThemeMatcher, model: str, now: str, batch: int = 1000) -> int:
    """Assign every stored text again with ``matcher``'s taxonomy, from its stored embedding where
    ``model`` (the scorer the matcher's examples were embedded with) made it; a text stored before
    embeddings were kept, or by another model, gets keywords only. Returns the texts assigned."""
    done = 0
    for subject, rows in _all_texts(db, batch):
        ids = [r["id"] for r in rows]
        embeddings = [vector(r["vector"]) if r["vector"] and r["model"] == model else None for r in rows]
        matches = matcher.assign([r["text"] or "" for r in rows], embeddings, [r["brand"] for r in rows])
        with db.atomic():
            save_themes(db, subject, ids, matches, matcher.taxonomy.fingerprint)
        done += len(rows)
    mark_assigned(db, matcher.taxonomy, now)
    log.info("themes: %d texts assigned again with taxonomy %s", done, matcher.taxonomy.fingerprint)
    return done


def mark_assigned(db: sqlite_utils.Database, taxonomy: Taxonomy, now: str) -> None:
    """Record that every stored text has its themes from ``taxonomy``."""
    with db.atomic():
        set_cursor(db, *TAXONOMY_KEY, taxonomy.fingerprint, now)


def stored_texts(db: sqlite_utils.Database) -> int:
    return sum(db.execute(sql).fetchone()[0] for sql in (
        "select count(*) from mentions", "select count(*) from survey_responses where comment is not null"))


def _all_texts(db: sqlite_utils.Database, batch: int) -> Iterator[tuple[str, list[dict]]]:
    """(subject, rows of id, text, brand, vector), a batch at a time, in storage order."""
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
            yield subject, rows
