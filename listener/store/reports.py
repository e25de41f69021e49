"""The read-only queries behind the report, the digest and the charts: counts of a brand's survey
answers and mentions in a period [start, end) (UTC ISO times)."""

from __future__ import annotations

import sqlite_utils

CLASSES_OF = {"survey_responses": "answered_at", "mentions": "created_at"}  # table -> its time column


def class_counts(db: sqlite_utils.Database, brand: str, table: str, start: str, end: str) -> tuple[int, int, int]:
    """(promoters, passives, detractors) among the brand's survey answers or mentions."""
    column = CLASSES_OF[table]
    row = db.execute(
        f"select sum(nps_class = 'promoter'), sum(nps_class = 'passive'), sum(nps_class = 'detractor') "
        f"from {table} where brand = ? and {column} >= ? and {column} < ?", [brand, start, end]).fetchone()
    return tuple(value or 0 for value in row)


# The ISO 8601 week ("2026-W45", as the run summary and every calendar in Europe count it) of a
# timestamp column; SQLite before 3.46 has no %V: the week is the one its Thursday falls in.
ISO_WEEK = ("strftime('%Y', date({column}, '-3 days', 'weekday 4')) || '-W' || "
            "printf('%02d', (strftime('%j', date({column}, '-3 days', 'weekday 4')) - 1) / 7 + 1)")


def weekly_class_counts(db: sqlite_utils.Database, brand: str, start: str, end: str
                        ) -> list[tuple[str, int, int, int]]:
    """(week, promoters, passives, detractors) of the brand's survey answers, week by week."""
    return [tuple(r) for r in db.execute(
        f"select {ISO_WEEK.format(column='answered_at')} as week, sum(nps_class = 'promoter'), sum(nps_class = 'passive'), "
        "sum(nps_class = 'detractor') from survey_responses where brand = ? and answered_at >= ? and answered_at < ? "
        "group by week order by week", [brand, start, end]).fetchall()]


def daily_mentions(db: sqlite_utils.Database, brand: str, start: str, end: str) -> list[tuple[str, int, int, int]]:
    """(day, negative, neutral, positive) mentions of the brand, day by day."""
    return [tuple(r) for r in db.execute(
        "select substr(created_at, 1, 10) as day, sum(sentiment = 'negative'), sum(sentiment = 'neutral'), "
        "sum(sentiment = 'positive') from mentions where brand = ? and created_at >= ? and created_at < ? "
        "group by day order by day", [brand, start, end])]


def score_counts(db: sqlite_utils.Database, brand: str, start: str, end: str) -> list[int]:
    """Survey answers per score, 0 to 10."""
    counts = [0] * 11
    for score, n in db.execute("select score, count(*) from survey_responses where brand = ? and answered_at >= ? "
                               "and answered_at < ? group by score", [brand, start, end]):
        counts[score] = n
    return counts


def invitations_answered(db: sqlite_utils.Database, brand: str, start: str, end: str) -> tuple[int, int]:
    """(invitations sent, of those answered) in the period."""
    return tuple(db.execute(
        "select count(*), count(r.id) from survey_invitations i left join survey_responses r on r.invitation_id = i.id "
        "where i.brand = ? and i.sent_at >= ? and i.sent_at < ?", [brand, start, end]).fetchone())


def mention_tone(db: sqlite_utils.Database, brand: str, start: str, end: str) -> tuple[int, int]:
    """(mentions, negative mentions) posted in the period."""
    return tuple(db.execute(
        "select count(*), coalesce(sum(sentiment = 'negative'), 0) from mentions "
        "where brand = ? and created_at >= ? and created_at < ?", [brand, start, end]).fetchone())


def recent_comments(db: sqlite_utils.Database, brand: str, start: str, end: str, limit: int
                    ) -> list[tuple[str, int, str, str]]:
    """(answered_at, score, nps_class, comment) of the latest survey comments, newest first."""
    return [tuple(r) for r in db.execute(
        "select answered_at, score, nps_class, comment from survey_responses where brand = ? and answered_at >= ? "
        "and answered_at < ? and trim(coalesce(comment, '')) != '' order by answered_at desc limit ?",
        [brand, start, end, limit])]


def detractor_comments(db: sqlite_utils.Database, brand: str, start: str, end: str) -> list[str]:
    return [r[0] for r in db.execute(
        "select comment from survey_responses where brand = ? and nps_class = 'detractor' and answered_at >= ? "
        "and answered_at < ?", [brand, start, end])]
