"""The theme jobs: keep stored texts assigned with the configured taxonomy, and each week look for
candidate themes among the complaints no theme covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from listener.kernel.times import iso
from listener.store.mentions import get_cursor, set_cursor

from ..app import App
from ..store.themes import stored_texts, unmatched_complaints
from ..themes.assignments import mark_assigned, reassign, sync_taxonomy
from ..themes.discovery import cluster, save_candidates
from .outcome import Outcome


def keep_themes_current(app: App) -> int | None:
    """Assign every stored text again when the taxonomy changed since they were assigned; returns
    the texts assigned, or None when nothing changed."""
    if not sync_taxonomy(app.db, app.config.themes):
        return None
    if not stored_texts(app.db):  # a new database: record the taxonomy, load no model
        mark_assigned(app.db, app.config.themes, iso(app.now()))
        return 0
    return reassign(app.db, app.theme_matcher, app.scorer.name, iso(app.now()))


@dataclass
class DiscoveryCounts:
    week: str
    texts: int = 0
    candidates: int = 0
    already_done: bool = False


def run_discovery(app: App) -> DiscoveryCounts:
    """Once per ISO week: cluster each brand's unmatched complaints of the last ``discovery_days``."""
    now = app.now()
    week = f"{now.isocalendar().year}-W{now.isocalendar().week:02d}"
    counts = DiscoveryCounts(week)
    if get_cursor(app.db, "themes", "discovery") == week:
        counts.already_done = True
        return counts
    settings = app.config.theme_matching
    start = now - timedelta(days=settings.discovery_days)
    for brand in app.config.brands:
        texts, embeddings = unmatched_complaints(app.db, brand.name, iso(start), iso(now))
        counts.texts += len(texts)
        found = cluster(texts, embeddings, settings.discovery_min_size) if texts else []
        with app.db.atomic():
            counts.candidates += save_candidates(app.db, brand.name, start, now, found, iso(now))
    with app.db.atomic():
        set_cursor(app.db, "themes", "discovery", week, iso(now))
    return counts


def upkeep_outcome(app: App) -> Outcome:
    reassigned = keep_themes_current(app)
    return Outcome([f"themes  taxonomy changed: {reassigned} texts assigned again"] if reassigned else [])


def discovery_outcome(app: App) -> Outcome:
    found = run_discovery(app)
    return Outcome([f"themes  {found.week}: " + ("discovery already done this week" if found.already_done else
                                                 f"{found.texts} complaints without a theme, {found.candidates} "
                                                 f"candidate themes")])
