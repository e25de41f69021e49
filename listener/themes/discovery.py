"""Discovery: what unhappy customers talk about that no theme covers yet.

Weekly, the complaints of the last weeks that matched no theme (negative or detractor mentions,
detractor survey comments) are clustered (scikit-learn k-means) on their stored embeddings joined
with their words (TF-IDF): the sentiment model's embeddings carry the tone strongly and the topic
weakly, and all these texts share the tone, so the words keep clusters about one thing. Each cluster
of at least ``min_size`` texts is named by its most distinctive words and offered as a candidate
theme, in the digest and in Datasette's ``theme_candidates`` table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sqlite_utils

from listener.kernel.times import iso
from listener.kernel.words import STOPWORDS
from listener.store import themes as store


@dataclass(frozen=True)
class Candidate:
    size: int
    words: tuple[str, ...]
    examples: tuple[str, ...]


def cluster(texts: Sequence[str], embeddings: np.ndarray, min_size: int, seed: int = 0) -> list[Candidate]:
    """Clusters of at least ``min_size`` texts, largest first, each named by its distinctive words."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    if len(texts) < 2 * min_size:
        return []
    words = TfidfVectorizer(stop_words=sorted(ENGLISH_STOP_WORDS | STOPWORDS), min_df=2, sublinear_tf=True,
                            token_pattern=r"(?u)\b[^\W\d_]{3,}\b", strip_accents=None)
    try:
        tfidf = words.fit_transform(texts).toarray()
    except ValueError:  # no word appears twice: nothing in common to name
        return []
    centred = embeddings - embeddings.mean(axis=0)
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-9)
    features = np.hstack([centred, tfidf])
    k = max(2, min(len(texts) // (2 * min_size), 12))
    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(features)
    vocabulary = np.array(words.get_feature_names_out())
    overall = tfidf.mean(axis=0)
    found = []
    for label in range(k):
        members = np.flatnonzero(labels == label)
        if len(members) < min_size:
            continue
        distinctive = tfidf[members].mean(axis=0) - overall
        top = [vocabulary[i] for i in np.argsort(-distinctive)[:4] if distinctive[i] > 0]
        if not top:
            continue
        centre = features[members].mean(axis=0)
        nearest = members[np.argsort(-(features[members] @ centre))[:3]]
        found.append(Candidate(len(members), tuple(top), tuple(texts[i] for i in nearest)))
    return sorted(found, key=lambda c: -c.size)


def save_candidates(db: sqlite_utils.Database, brand: str, start, end, candidates: Sequence[Candidate],
                    now: str) -> int:
    """Store the candidates (a theme already offered with the same words is not offered again)."""
    offered = store.offered_words(db, brand)
    rows = [{"brand": brand, "found_at": now, "period_start": iso(start), "period_end": iso(end), "size": c.size,
             "words": json.dumps(list(c.words), ensure_ascii=False),
             "examples": json.dumps(list(c.examples), ensure_ascii=False), "status": "new"}
            for c in candidates if c.words not in offered]
    store.add_candidates(db, rows)
    return len(rows)


def candidate_name(words: Sequence[str]) -> str:
    return " / ".join(re.sub(r"\s+", " ", w) for w in words[:3])
