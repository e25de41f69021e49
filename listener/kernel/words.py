"""Words too common to say what a text is about, in Italian and English: one list for the report's
"detractors talk about", spike alerts' words and the names of candidate themes; and the function
words that tell the two languages apart (``listener.language``)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Function words that mark a language: counted to tell Italian from English on short texts.
FUNCTION_WORDS = {
    "it": frozenset("il lo la gli le un una di da in con su per tra fra che non è e ma più anche sono ho ha mi ti ci "
                    "del della dei delle nel nella questo questa molto mai sempre ancora come perché grazie ordine"
                    .split()),
    "en": frozenset("the a an of to in on for with and but not is are was were it this that i you my your have has "
                    "very never always still again why thanks order from at be".split()),
}

STOPWORDS = frozenset("""
a ad al alla alle allo agli ai anche ancora avete che chi ci come con da dal dalla dei del della delle di e è ed gli
ha hanno ho i il in io la le lo loro ma mi mio mia molto ne nei nel nella no non o per perché più poi quando
quello questa questo se si sia sono su sul sulla tra tu un una uno vi voi stato stata fatto fare essere era
sempre mai ogni dopo prima volta tutto tutti niente nulla solo già ora oggi ieri però così cosa
vostro vostra vostri vostre nostro nostra suo sua miei mie the and a an of to in on for with is are was were
be been it its this that i you my your we our they them not no but so very too just have has had do did does
at from as by or if than then there their what which me still again
""".split())
_WORD = re.compile(r"[^\W\d_]{3,}")


def top_words(texts: Iterable[str | None], limit: int = 10) -> list[tuple[str, int]]:
    """The words most texts use (a word counts once per text: what many people say, not one long
    rant), stop words left out; ties in alphabetical order."""
    counts: Counter = Counter()
    for text in texts:
        counts.update({w for w in _WORD.findall((text or "").casefold()) if w not in STOPWORDS})
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
