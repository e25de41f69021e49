"""Keeping texts' themes current: each text's themes, and the taxonomy they were assigned with.

``record`` runs inside the transaction that stores the texts (a mention and its themes commit
together); ``sync_taxonomy`` and ``reassign`` bring stored texts up to a changed taxonomy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import sqlite_utils

from listener.store import themes as store
from listener.store.mentions import get_cursor, set_cursor

from .matching import ThemeMatcher
from .taxonomy import Taxonomy

log = logging.getLogger(__name__)

TAXONOMY_KEY = ("themes", "taxonomy")  # (source, query) in the cursors table: the fingerprint assigned with


def record(db: sqlite_utils.Database, subject: str, ids: Sequence, texts: Sequence[str], embeddings: Sequence,
           brands: Sequence[str | None], matcher: ThemeMatcher, model: str) -> int:
    """Store the texts' embeddings and themes (replacing earlier ones); returns the themes stored."""
    store.save_embeddings(db, subject, ids, embeddings, model)
    return store.save_themes(db, subject, ids, matcher.assign(texts, embeddings, brands), matcher.taxonomy.fingerprint)


def sync_taxonomy(db: sqlite_utils.Database, taxonomy: Taxonomy) -> bool:
    """Copy the taxonomy into the ``themes`` table; True when it differs from the one texts were
    assigned with (they then need ``reassign``)."""
    if store.stored_fingerprint(db) != taxonomy.fingerprint:
        store.replace_taxonomy(db, [{
            "id": t.id, "name_it": t.label("it"), "name_en": t.label("en"),
            "description_it": t.description.get("it"), "description_en": t.description.get("en"),
            "keywords": json.dumps(list(t.keywords), ensure_ascii=False), "brands": json.dumps(list(t.brands)),
            "taxonomy": taxonomy.fingerprint} for t in taxonomy])
    return get_cursor(db, *TAXONOMY_KEY) != taxonomy.fingerprint


def reassign(db: sqlite_utils.Database, matcher: ThemeMatcher, model: str, now: str, batch: int = 1000) -> int:
    """Assign every stored text again with ``matcher``'s taxonomy, from its stored embedding where
    ``model`` (the scorer the matcher's examples were embedded with) made it; a text stored before
    embeddings were kept, or by another model, gets keywords only. Returns the texts assigned."""
    done = 0
    for subject, texts in store.all_texts(db, model, batch):
        matches = matcher.assign([t.text for t in texts], [t.vector for t in texts], [t.brand for t in texts])
        with db.atomic():
            store.save_themes(db, subject, [t.id for t in texts], matches, matcher.taxonomy.fingerprint)
        done += len(texts)
    mark_assigned(db, matcher.taxonomy, now)
    log.info("themes: %d texts assigned again with taxonomy %s", done, matcher.taxonomy.fingerprint)
    return done


def mark_assigned(db: sqlite_utils.Database, taxonomy: Taxonomy, now: str) -> None:
    """Record that every stored text has its themes from ``taxonomy``."""
    with db.atomic():
        set_cursor(db, *TAXONOMY_KEY, taxonomy.fingerprint, now)
