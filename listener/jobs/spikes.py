"""The spike job: each hour, look at the hour that just ended for every brand."""

from __future__ import annotations

from datetime import timedelta

from listener.alerts.kinds import SPIKE_ALERT

from ..alerts.spikes import Spike, check_hour
from ..app import App
from .outcome import Outcome


def run_spikes(app: App) -> list[tuple[str, Spike]]:
    now = app.now()
    hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    found = []
    for brand in app.config.brands:
        routes = app.routes_for(SPIKE_ALERT, brand.name)
        found += [(brand.name, spike) for spike in check_hour(app.db, brand.name, hour, app.config.alerts, routes, now)]
    return found


def job_outcome(app: App) -> Outcome:
    spikes = run_spikes(app)
    return Outcome([f"spikes  {len(spikes)}" + "".join(f"  [{brand}: {s.kind}, {s.count} mentions]"
                                                       for brand, s in spikes)])
