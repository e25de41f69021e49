"""Near misses: mentions that did not alert but came close, listed for the team once a day with a
"this is a complaint" link each: the misses people point out teach the detector."""

from __future__ import annotations


def near_misses(db, brand: str, since: str, until: str, share: float, limit: int) -> list[dict]:
    """Mentions that did not alert but came close: at least ``share`` of their threshold."""
    return list(db.query(
        "select rowid, id, author, source, text, url, created_at, p_unhappy, alert_threshold as threshold "
        "from mentions where brand = ? and collected_at >= ? and collected_at < ? and nps_class != 'detractor' "
        "and alert_threshold is not null and p_unhappy >= ? * alert_threshold "
        "order by p_unhappy / alert_threshold desc limit ?", [brand, since, until, share, limit]))
