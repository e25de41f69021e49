"""Theme drivers: which themes go with unhappy customers, and how much.

Per theme and period: its share of the detractors', passives' and promoters' comments; the NPS of
respondents whose comment has the theme against those whose comment does not, each with the 95%
interval of ``sentiment.nps`` and the gap between them with its significance; the tone of the
mentions with the theme; and the change of the theme's NPS against the previous period, with the
same significance test as the headline NPS. The arithmetic is on plain lists (``drivers``); the
queries only gather them (``brand_drivers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlite_utils

from listener.kernel.times import iso
from listener.store import themes as store
from sentiment.runtime.labels import LABELS
from surveys.nps import DETRACTOR, PASSIVE, PROMOTER, Change, Nps, nps, nps_change

from .taxonomy import Taxonomy

# (nps_class, themes) of one survey answer; (sentiment, themes) of one mention
Answer = tuple[str, frozenset]
Mention = tuple[str, frozenset]


@dataclass(frozen=True)
class Driver:
    theme: str
    label: str
    answers: int  # survey answers whose comment has the theme
    share: dict  # nps class -> share of that class's answers with the theme (None: no such answers)
    nps_with: Nps
    nps_without: Nps
    gap: Change | None  # nps_with minus nps_without, and whether the difference is significant
    change: Change | None  # nps_with against the previous period's
    mentions: int
    tone: dict  # sentiment -> mentions with the theme
    examples: tuple[str, ...] = ()

    @property
    def impact(self) -> float:
        """NPS points the theme costs the whole: how much the overall NPS would rise if the answers
        with the theme scored like those without it (share of answers x gap). A theme one answer
        has costs little, however low its own NPS; negative: the theme lifts the score."""
        if self.nps_with.score is None or self.nps_without.score is None:
            return 0.0
        total = self.nps_with.responses + self.nps_without.responses
        return self.nps_with.responses / total * (self.nps_without.score - self.nps_with.score)

    @property
    def negative_share(self) -> float | None:
        return self.tone["negative"] / self.mentions if self.mentions else None


def _nps_of(answers: Sequence[Answer]) -> Nps:
    classes = [c for c, _ in answers]
    return nps(classes.count(PROMOTER), classes.count(PASSIVE), classes.count(DETRACTOR))


def drivers(taxonomy: Taxonomy, answers: Sequence[Answer], mentions: Sequence[Mention],
            previous: Sequence[Answer] = (), language: str = "en",
            examples: dict[str, Sequence[str]] | None = None) -> list[Driver]:
    """A driver per theme that any answer or mention has, the most harmful first: the most NPS points
    it costs (``Driver.impact``), then the most negative mentions."""
    found = []
    by_class = {c: [a for a in answers if a[0] == c] for c in (DETRACTOR, PASSIVE, PROMOTER)}
    for theme in taxonomy:
        with_theme = [a for a in answers if theme.id in a[1]]
        without = [a for a in answers if theme.id not in a[1]]
        tagged = [m for m in mentions if theme.id in m[1]]
        if not with_theme and not tagged:
            continue
        share = {c: (sum(theme.id in a[1] for a in group) / len(group) if group else None)
                 for c, group in by_class.items()}
        nps_with, nps_without = _nps_of(with_theme), _nps_of(without)
        before = _nps_of([a for a in previous if theme.id in a[1]])
        tone = {s: sum(m[0] == s for m in tagged) for s in LABELS}
        found.append(Driver(theme.id, theme.label(language), len(with_theme), share, nps_with, nps_without,
                            nps_change(nps_with, nps_without), nps_change(nps_with, before), len(tagged), tone,
                            tuple((examples or {}).get(theme.id, ()))))
    return sorted(found, key=lambda d: (-d.impact, -d.tone["negative"]))


def brand_drivers(db: sqlite_utils.Database, taxonomy: Taxonomy, brand: str, start, end, language: str = "en",
                  examples_per_theme: int = 2) -> list[Driver]:
    """The drivers of a brand's period [start, end), against the period of the same length before."""
    previous_start = start - (end - start)
    return drivers(taxonomy, store.answers_with_themes(db, brand, iso(start), iso(end)),
                   store.mentions_with_themes(db, brand, iso(start), iso(end)),
                   store.answers_with_themes(db, brand, iso(previous_start), iso(start)), language,
                   _examples(db, brand, start, end, examples_per_theme))


def _examples(db, brand: str, start, end, limit: int) -> dict[str, list[str]]:
    """Per theme, the detractor comments that fit it best, for the report's table."""
    found: dict[str, list[str]] = {}
    for theme, comment in store.detractor_comments_by_theme(db, brand, iso(start), iso(end)):
        same = found.setdefault(theme, [])
        if len(same) < limit and comment not in same:
            same.append(comment)
    return found
