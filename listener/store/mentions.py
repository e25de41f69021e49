"""Mentions and the cursors of the sources that collect them.

Every write is idempotent: a mention is keyed ``source:native_id`` and inserted once; an edited post
(a higher revision) replaces its stored text. A cursor moves in the transaction that commits the rows
it covers (the caller holds it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace

import sqlite_utils

from listener.kernel.textfiles import one_line
from listener.sources.base import MentionRow

from .database import in_chunks, marks, where

AUTHOR_CHARS = 120  # longer than any platform's display name; an author ends up in a message's subject


def capped(row: MentionRow, max_chars: int) -> MentionRow:
    """The row with its text cut to ``max_chars`` (and its raw item kept only that far, ten times
    over), its author to one line of ``AUTHOR_CHARS``: one 50 MB post, or a 1 MB name, must not cost
    minutes of scoring, gigabytes of memory or a 100 MB email."""
    if row.author is not None and (len(row.author) > AUTHOR_CHARS or "\n" in row.author or "\r" in row.author):
        row = replace(row, author=one_line(row.author)[:AUTHOR_CHARS].strip() or None)
    if len(row.text) <= max_chars and len(row.raw) <= 10 * max_chars:
        return row
    raw = row.raw if len(row.raw) <= 10 * max_chars else json.dumps(
        {"raw_cut_at": 10 * max_chars, "raw_length": len(row.raw), "raw_start": row.raw[:10 * max_chars]},
        ensure_ascii=False)
    return replace(row, text=row.text[:max_chars], raw=raw, text_length=len(row.text))


@dataclass(frozen=True)
class ScoredMention:
    row: MentionRow
    sentiment: str
    sentiment_score: float
    p_negative: float
    p_neutral: float
    p_positive: float
    model: str
    nps_class: str
    p_unhappy: float | None = None
    alert_rule: str | None = None
    alert_threshold: float | None = None
    alert_details: dict | None = field(default=None, compare=False)  # why it alerted, for the alert (not a column)
    embedding: object = field(default=None, compare=False, repr=False)  # kept in text_embeddings (not a column)

    def record(self) -> dict:
        fields = asdict(self)
        fields.pop("alert_details")
        fields.pop("embedding")
        return {**fields.pop("row"), **fields}


def known_revisions(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, int | None]:
    """The stored mentions among ``ids``, with their revision (None for posts that are not edited)."""
    found: dict[str, int | None] = {}
    for chunk in in_chunks(ids):
        found.update(db.execute(f"select id, revision from mentions where id in ({marks(chunk)})", chunk).fetchall())
    return found


def update_edited(db: sqlite_utils.Database, mentions: Iterable[ScoredMention]) -> list[ScoredMention]:
    """Replace stored mentions by their newer revisions (an edited post: one mention, its latest text);
    returns those replaced. The caller holds the transaction."""
    updated = []
    for mention in mentions:
        record = mention.record()
        record.pop("collected_at")  # when it was first collected stays
        columns = [k for k in record if k != "id"]
        sql = (f"update mentions set {', '.join(f'{k} = ?' for k in columns)} "
               "where id = ? and coalesce(revision, 0) < ?")
        if db.execute(sql, [record[k] for k in columns] + [record["id"], mention.row.revision]).rowcount:
            updated.append(mention)
    return updated


def insert_mentions(db: sqlite_utils.Database, mentions: Iterable[ScoredMention]) -> list[ScoredMention]:
    """Insert scored mentions, leaving existing rows as they are (a re-run changes nothing); returns
    those inserted now. The caller holds the transaction."""
    inserted = []
    for mention in mentions:
        record = mention.record()
        sql = f"insert or ignore into mentions ({', '.join(record)}) values ({', '.join('?' * len(record))})"
        if db.execute(sql, list(record.values())).rowcount:
            inserted.append(mention)
    return inserted


def get_cursor(db: sqlite_utils.Database, source: str, query: str) -> str | None:
    row = db.execute("select value from cursors where source = ? and query = ?", [source, query]).fetchone()
    return row[0] if row else None


def cursors_of(db: sqlite_utils.Database, source: str) -> list[tuple[str, str]]:
    """(query, value) of every cursor of a source job."""
    return [tuple(r) for r in db.execute("select query, value from cursors where source = ? order by query",
                                         [source]).fetchall()]


def set_cursor(db: sqlite_utils.Database, source: str, query: str, value: str, now: str) -> None:
    db["cursors"].upsert({"source": source, "query": query, "value": value, "updated_at": now}, pk=("source", "query"))


@dataclass(frozen=True)
class StoredMention:
    """A stored mention as messages, pages and commands show it."""

    id: str
    source: str
    brand: str
    author: str | None
    url: str | None
    text: str
    lang: str | None
    created_at: str
    sentiment: str | None
    sentiment_score: float | None
    p_negative: float | None
    p_neutral: float | None
    p_positive: float | None
    p_unhappy: float | None
    alert_rule: str | None
    rating: int | None
    model: str | None
    nps_class: str | None


def stored_mentions(db: sqlite_utils.Database, ids: Iterable[str]) -> dict[str, StoredMention]:
    """The stored mentions among ``ids``, by id."""
    columns = ", ".join(f.name for f in fields(StoredMention))
    found = {}
    for chunk in in_chunks(ids):
        for row in db.query(f"select {columns} from mentions where id in ({marks(chunk)})", chunk):
            found[row["id"]] = StoredMention(**row)
    return found


def tone_counts(db: sqlite_utils.Database, brand: str, start: str, end: str) -> tuple[int, int]:
    """(mentions, negative or unhappy mentions) of a brand posted in [start, end)."""
    row = db.execute("select count(*), coalesce(sum(sentiment = 'negative' or nps_class = 'detractor'), 0) "
                     "from mentions where brand = ? and created_at >= ? and created_at < ?",
                     [brand, start, end]).fetchone()
    return row[0], row[1]


def posted_texts(db: sqlite_utils.Database, brand: str, start: str, end: str) -> list[str]:
    return [r[0] for r in db.execute("select text from mentions where brand = ? and created_at >= ? and "
                                     "created_at < ?", [brand, start, end])]


def most_unhappy(db: sqlite_utils.Database, brand: str, start: str, end: str, limit: int = 5) -> list[StoredMention]:
    """The mentions of a brand posted in [start, end) that sound unhappiest."""
    columns = ", ".join(f.name for f in fields(StoredMention))
    return [StoredMention(**row) for row in db.query(
        f"select {columns} from mentions where brand = ? and created_at >= ? and created_at < ? "
        "order by coalesce(p_unhappy, p_negative) desc limit ?", [brand, start, end, limit])]


# ---- re-scoring history ------------------------------------------------------------------------

@dataclass(frozen=True)
class Stored:
    """A stored mention as re-scoring reads it: enough to score and judge it again."""

    rowid: int
    id: str
    brand: str
    text: str
    lang: str | None
    source: str
    rating: int | None
    author: str | None
    nps_class: str | None


def mentions_after(db: sqlite_utils.Database, rowid: int, since: str | None, brand: str | None, limit: int
                   ) -> list[Stored]:
    """The next ``limit`` mentions after ``rowid`` (their storage order: a cursor that resumes), from
    ``since`` and of ``brand`` where given."""
    filters, args = where(("rowid > ?", rowid if rowid else -1), ("created_at >= ?", since), ("brand = ?", brand))
    return [Stored(**row) for row in db.query(
        "select rowid, id, brand, text, lang, source, rating, author, nps_class from mentions" + filters
        + " order by rowid limit ?", [*args, limit])]


def update_scores(db: sqlite_utils.Database, scored: Iterable[tuple[str, dict]]) -> None:
    """Replace the scores of stored mentions: (id, the score columns of ``ScoredMention.record``).
    The caller holds the transaction."""
    for mention_id, columns in scored:
        db.execute(f"update mentions set {', '.join(f'{k} = ?' for k in columns)} where id = ?",
                   [*columns.values(), mention_id])
