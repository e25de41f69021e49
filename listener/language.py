"""A cheap Italian/English guess for mentions whose source does not say.

Stop-word counts are enough to tell these two apart on tweet-length text, and need no model; the
guess is only a facet for Datasette, never an input to scoring (the model is multilingual).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from listener.kernel.words import FUNCTION_WORDS

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


# Codes sources use for "no language": X's qst (very short), qht (hashtags only), qam (mentions only),
# qme (media links only), zxx (no linguistic content), und (undetermined), art (artificial).
NOT_A_LANGUAGE = {"und", "zxx", "qme", "qst", "qht", "qam", "art", "mul", "mis"}


def language_code(value) -> str | None:
    """A source's language tag as a plain code (``it``, ``en``; ``it-IT`` -> ``it``), or None for a
    tag that names no language."""
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if code.isalpha() and 2 <= len(code) <= 3 and code not in NOT_A_LANGUAGE else None


def guess_language(text: str, allowed: Sequence[str] = ("it", "en")) -> str | None:
    words = [w.casefold() for w in _TOKEN.findall(text)]
    counts = {lang: sum(w in FUNCTION_WORDS[lang] for w in words) for lang in allowed if lang in FUNCTION_WORDS}
    if not counts:
        return None
    best = max(counts, key=counts.get)
    ties = [lang for lang, n in counts.items() if n == counts[best]]
    return best if counts[best] > 0 and len(ties) == 1 else None
