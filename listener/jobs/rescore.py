"""Re-scoring history: every stored mention (from a date, of a brand) scored again with the active
model or a named version, in this process or on the cluster (``[cluster]``).

It goes in chunks in storage order and commits each chunk with a cursor (``cursors``, source
"rescore"), like a collector: a crash or Ctrl-C resumes where it stopped, and a chunk is written only
when all of its scores are back. What changed is counted (labels, texts newly judged unhappy, those
no longer); the texts newly judged unhappy get their alert and case only when asked (``alert_new``):
history re-read is not news, unless the team wants it to be.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from listener.kernel.times import iso
from listener.rules import DETRACTOR
from listener.store.mentions import get_cursor, mentions_after, set_cursor, update_scores

from ..app import App
from ..pipeline import Flow, Text, follow_up, judge, score_columns

CURSOR = "rescore"


@dataclass
class Rescored:
    scored: int = 0
    changed: int = 0  # the sentiment label or the class changed
    newly_unhappy: int = 0
    no_longer_unhappy: int = 0
    alerts: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.scored / self.seconds if self.seconds else 0.0


def rescore(app: App, scorer, *, since: str | None = None, brand: str | None = None, alert_new: bool = False,
            chunk: int = 500, progress=None) -> Rescored:
    """Score the stored mentions again with ``scorer``; resumable (the cursor is per model, period
    and brand)."""
    key = f"{scorer.name}|{since or ''}|{brand or ''}"
    after = int(get_cursor(app.db, CURSOR, key) or 0)
    done, started = Rescored(), time.perf_counter()
    while not app.stopping.is_set():
        stored = mentions_after(app.db, after, since, brand, chunk)
        if not stored:
            break
        now = iso(app.now())
        flow = Flow(scorer, app.alert_rules, app.routes_for, now, iso(app.case_due()), app.theme_matcher,
                    app.group_since())
        texts = [Text("mention", m.id, m.brand, m.text, m.lang, m.source, m.rating,
                      person=f"{m.source}:{m.author.casefold()}" if m.author else None) for m in stored]
        judged = judge(texts, flow)
        columns, fresh = [], []
        for mention, item in zip(stored, judged, strict=True):
            columns.append((mention.id, score_columns(item, scorer.name)))
            was, now_unhappy = mention.nps_class == DETRACTOR, item.nps_class == DETRACTOR
            done.changed += item.nps_class != mention.nps_class
            done.newly_unhappy += now_unhappy and not was
            done.no_longer_unhappy += was and not now_unhappy
            if now_unhappy and not was:
                fresh.append(item)
        with app.db.atomic():
            update_scores(app.db, columns)
            if alert_new and fresh:
                done.alerts += follow_up(app.db, fresh, flow)
            set_cursor(app.db, CURSOR, key, str(stored[-1].rowid), now)
        after = stored[-1].rowid
        done.scored += len(stored)
        if progress is not None:
            progress(len(stored))
    done.seconds = time.perf_counter() - started
    return done

