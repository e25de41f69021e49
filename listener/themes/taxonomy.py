"""Themes: what a text is about (delivery, price, customer service...), each with Italian and English
names and descriptions, keywords and example phrases.

The shipped retail and e-commerce taxonomy (``retail.toml``) holds unless the configuration has its
own ``[[themes]]``. A taxonomy has a fingerprint: when it changes, stored texts are assigned again.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from ..settings import setting

RETAIL = Path(__file__).with_name("retail.toml")


def _id_problem(value: str) -> str | None:
    return None if re.fullmatch(r"[a-z][a-z0-9_]{0,40}", value) else f"expected a short id like \"delivery\", got {value!r}"


def _names_problem(value: dict) -> str | None:
    if not value or not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()):
        return 'expected a table of language = text, like { it = "Consegna", en = "Delivery" }'
    return None


@dataclass(frozen=True, kw_only=True)
class Theme:
    """One ``[[themes]]`` table."""

    id: str = setting(check=_id_problem)
    name: dict = setting(check=_names_problem)  # language -> name
    description: dict = field(default_factory=dict)  # language -> one line
    keywords: tuple[str, ...] = setting(())
    examples: tuple[str, ...] = setting(())  # short phrases whose embeddings stand for the theme
    brands: tuple[str, ...] = setting(())  # empty: every brand

    def __hash__(self) -> int:
        return hash(self.id)

    def label(self, language: str) -> str:
        return self.name.get(language) or self.name.get("en") or next(iter(self.name.values()), self.id)

    def applies_to(self, brand: str | None) -> bool:
        return not self.brands or brand in self.brands

    @cached_property
    def keyword_pattern(self) -> re.Pattern | None:
        """Keywords match at the start of a word (a stem: "consegn" matches "consegnato"); one of
        three letters or fewer ("app", "bar", "IVA") matches a whole word only."""
        if not self.keywords:
            return None
        parts = [re.escape(k.strip()) + (r"(?!\w)" if len(k.strip()) <= 3 else "") for k in self.keywords if k.strip()]
        return re.compile(r"(?<!\w)(?:" + "|".join(parts) + ")", re.IGNORECASE)

    def mentioned_in(self, text: str) -> bool:
        return bool(self.keyword_pattern and self.keyword_pattern.search(text))

    def prototypes(self) -> list[str]:
        """The phrases embedded to stand for the theme: its examples, else its descriptions."""
        return list(self.examples) or [d for d in self.description.values() if d]


@dataclass(frozen=True)
class Taxonomy:
    themes: tuple[Theme, ...]

    @property
    def fingerprint(self) -> str:
        """Changes whenever a theme, a keyword or an example does: stored texts are then re-assigned."""
        data = json.dumps([asdict(t) for t in self.themes], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def get(self, theme_id: str) -> Theme | None:
        return next((t for t in self.themes if t.id == theme_id), None)

    def __iter__(self):
        return iter(self.themes)

    def __len__(self) -> int:
        return len(self.themes)


def retail_taxonomy() -> Taxonomy:
    """The shipped themes for retail and e-commerce brands."""
    with RETAIL.open("rb") as f:
        tables = tomllib.load(f)["themes"]
    return Taxonomy(tuple(Theme(**{k: tuple(v) if isinstance(v, list) else v for k, v in t.items()}) for t in tables))
