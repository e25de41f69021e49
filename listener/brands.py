"""Which brand a text is about: keyword and alias matching with exclusions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from .settings import Brand


@lru_cache(maxsize=256)
def _pattern(term: str) -> re.Pattern:
    # Whole-word match, so "aurora" does not fire inside "auroral"; @handles and #tags match as written.
    return re.compile(r"(?<![\w@#])" + re.escape(term.casefold()) + r"(?!\w)")


def mentions_term(text: str, term: str) -> bool:
    return bool(_pattern(term).search(text.casefold()))


def is_excluded(text: str, brand: Brand) -> bool:
    return any(mentions_term(text, term) for term in brand.exclude)


def match_brand(text: str, brands: Sequence[Brand]) -> Brand | None:
    """The first brand whose keywords occur in the text and whose exclusions do not."""
    for brand in brands:
        if any(mentions_term(text, k) for k in brand.keywords) and not is_excluded(text, brand):
            return brand
    return None
