"""Assigning themes to texts, from the embedding the sentiment model already computed for each text
and the themes' keywords: no second pass of the model over the text.

Each theme stands for the embeddings of its example phrases (computed once per process and
taxonomy: a few dozen short phrases). A text's similarity to a theme is its best cosine similarity
to those; a keyword of the theme in the text adds ``keyword_boost``; the theme is assigned when
the sum reaches ``threshold``, the best ``max_themes`` at most. A scorer without embeddings leaves
keywords alone to decide.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from listener.store.themes import Assigned
from sentiment.scoring import Scorer

from ..settings import ThemeMatching
from .taxonomy import Taxonomy


class ThemeMatcher:
    def __init__(self, taxonomy: Taxonomy, settings: ThemeMatching, prototypes: dict[str, np.ndarray] | None):
        self.taxonomy, self.settings = taxonomy, settings
        self.prototypes = prototypes  # theme id -> [k, d] unit vectors; None: keywords only

    @classmethod
    def build(cls, taxonomy: Taxonomy, settings: ThemeMatching, scorer: Scorer) -> ThemeMatcher:
        """Embeds the themes' examples with the scorer; a scorer without embeddings leaves keywords
        alone to decide."""
        phrases = [(theme.id, phrase) for theme in taxonomy for phrase in theme.prototypes()]
        embedded = scorer.embed([phrase for _, phrase in phrases]) if phrases else None
        if embedded is None or not embedded.size:
            return cls(taxonomy, settings, None)
        vectors: dict[str, list] = {}
        for (theme, _), vector in zip(phrases, embedded, strict=True):
            vectors.setdefault(theme, []).append(_unit(np.asarray(vector, dtype=np.float32)))
        return cls(taxonomy, settings, {theme: np.stack(v) for theme, v in vectors.items()})

    def assign(self, texts: Sequence[str], embeddings: Sequence, brands: Sequence[str | None]) -> list[list[Assigned]]:
        """The themes of each text, best first."""
        return [self.assign_one(text, embedding, brand) for text, embedding, brand in zip(texts, embeddings, brands,
                                                                                          strict=True)]

    def assign_one(self, text: str, embedding, brand: str | None) -> list[Assigned]:
        vector = None
        if self.prototypes is not None and embedding is not None and len(embedding):
            vector = _unit(np.asarray(embedding, dtype=np.float32))
        matches = []
        for theme in self.taxonomy:
            if not theme.applies_to(brand):
                continue
            keyword = theme.mentioned_in(text or "")
            similarity = None
            if vector is not None and theme.id in self.prototypes:
                similarity = float((self.prototypes[theme.id] @ vector).max())
            score = (similarity or 0.0) + (self.settings.keyword_boost if keyword else 0.0)
            if score >= self.settings.threshold:
                matches.append(Assigned(theme.id, round(score, 4), similarity, keyword))
        matches.sort(key=lambda m: -m.score)
        return matches[: self.settings.max_themes]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
