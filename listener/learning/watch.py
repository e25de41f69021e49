"""After a version retrained on corrections is adopted, watch the alerts: if the detector alerts on
less than half the share of mentions it alerted on before, tell the team (once per version), with the
command that goes back. The gate set guards what can be measured before adoption; this guards what
only the brand's own mentions show."""

from __future__ import annotations

from datetime import timedelta

from listener.alerts.kinds import NOTICE_ALERT
from listener.alerts.notices import notice
from listener.kernel.times import iso, parse_timestamp
from listener.store import models
from listener.store.alerts import enqueue

WATCH_DAYS = 14  # after an adoption, and the days before it to compare with
SETTLE_DAYS = 2  # before the first look: a day of mentions says little
MIN_MENTIONS = 100  # on each side
MIN_ALERTS_BEFORE = 10
FALL = 0.5  # alerts fell below half their share of mentions


def watch_adoption(app) -> bool:
    """Queue the "alerts_quieter" notice if the active retrained version alerts much less than the one
    before it did; True if queued now."""
    db, now = app.db, app.now()
    active = models.active_version(db)
    if active is None or active.parent is None:
        return False
    adopted = parse_timestamp(active.created_at)
    if not timedelta(days=SETTLE_DAYS) <= now - adopted <= timedelta(days=WATCH_DAYS):
        return False
    before = models.alert_share(db, iso(adopted - timedelta(days=WATCH_DAYS)), active.created_at)
    after = models.alert_share(db, active.created_at, iso(now))
    if before.mentions < MIN_MENTIONS or before.alerted < MIN_ALERTS_BEFORE or after.mentions < MIN_MENTIONS:
        return False
    if after.share >= FALL * before.share:
        return False
    details = notice("alerts_quieter", version=active.name, after=f"{after.share:.1%}", before=f"{before.share:.1%}",
                     mentions=after.mentions, days=WATCH_DAYS, previous=active.parent)
    with db.atomic():
        return bool(enqueue(db, NOTICE_ALERT, f"model:{active.name}:alerts_quieter", app.routes_for(NOTICE_ALERT),
                            iso(now), details=details))
