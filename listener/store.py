"""The SQLite store: schema (as registered migrations), connection settings, and writes.

Datasette reads the same file while the bot writes, hence WAL and a busy timeout. Several processes
may write (the bot, the survey page, an import): every write transaction begins IMMEDIATE, so a
second writer waits for the first instead of failing (``Database.atomic``). Every write is
idempotent: mentions are keyed ``source:native_id``, an alert is unique per (kind, subject) and a
case per subject.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from listener.kernel.errors import AscoltoError

BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for another one before giving up
migrations = Migrations("ascolto.listener")


@migrations()
def m001_mentions(db: sqlite_utils.Database) -> None:
    db["mentions"].create(
        {
            "id": str, "source": str, "native_id": str, "brand": str, "author": str, "url": str,
            "text": str, "lang": str, "created_at": str, "collected_at": str,
            "sentiment": str, "sentiment_score": float, "p_negative": float, "p_neutral": float,
            "p_positive": float, "model": str, "nps_class": str, "raw": str,
        },
        pk="id",
        not_null={"source", "native_id", "brand", "text", "created_at", "collected_at"},
    )
    for columns in (["brand", "created_at"], ["nps_class"], ["sentiment"]):
        db["mentions"].create_index(columns)
    db["mentions"].enable_fts(["text", "author"], create_triggers=True, tokenize="unicode61 remove_diacritics 2")


@migrations()
def m002_alerts(db: sqlite_utils.Database) -> None:
    # `subject` makes an alert unique: a mention id for a detractor, e.g. "x:budget:2026-11" for a notice.
    db["alerts"].create(
        {
            "id": int, "kind": str, "subject": str, "mention_id": str, "brand": str, "recipients": str,
            "details": str, "status": str, "attempts": int, "last_error": str, "next_attempt_at": str,
            "created_at": str, "sent_at": str, "message_id": str,
        },
        pk="id",
        not_null={"kind", "subject", "status", "attempts", "created_at"},
        defaults={"status": "pending", "attempts": 0},
        foreign_keys=[("mention_id", "mentions", "id")],
    )
    db["alerts"].create_index(["kind", "subject"], unique=True)
    db["alerts"].create_index(["status", "next_attempt_at"])


@migrations()
def m003_runs_and_cursors(db: sqlite_utils.Database) -> None:
    db["runs"].create(
        {
            "id": int, "job": str, "started_at": str, "finished_at": str, "status": str,
            "fetched": int, "new": int, "scored": int, "detractors": int, "skipped": int,
            "alerts_sent": int, "alerts_pending": int, "errors": int, "message": str,
        },
        pk="id",
        not_null={"job", "started_at", "status"},
    )
    db["runs"].create_index(["job", "started_at"])
    db["cursors"].create({"source": str, "query": str, "value": str, "updated_at": str}, pk=("source", "query"))


@migrations()
def m004_views(db: sqlite_utils.Database) -> None:
    db.create_view(
        "detractor_mentions",
        """select m.id, m.brand, m.source, m.author, m.text, m.url, m.created_at, m.sentiment_score,
                  a.status as alert_status, a.sent_at as alert_sent_at
           from mentions m left join alerts a on a.mention_id = m.id and a.kind = 'detractor_mention'
           where m.nps_class = 'detractor'""",
    )


@migrations()
def m005_cases(db: sqlite_utils.Database) -> None:
    # A detractor to follow up: a mention or a survey response. One case per subject.
    db["cases"].create(
        {"id": int, "kind": str, "subject_id": str, "brand": str, "owner": str, "status": str, "due_at": str,
         "notes": str, "created_at": str, "updated_at": str},
        pk="id", not_null={"kind", "subject_id", "brand", "status", "created_at"}, defaults={"status": "open"},
    )
    db["cases"].create_index(["kind", "subject_id"], unique=True)
    db["cases"].create_index(["status", "due_at"])


@migrations()
def m006_corrections(db: sqlite_utils.Database) -> None:
    # A person's sentiment label for a text the model got wrong: kept beside the model's, for training.
    db["corrections"].create(
        {"id": int, "kind": str, "subject_id": str, "text": str, "model_label": str, "label": str, "author": str,
         "created_at": str},
        pk="id", not_null={"kind", "subject_id", "text", "label", "created_at"},
    )
    db["corrections"].create_index(["kind", "subject_id"])


@migrations()
def m007_detector_and_ratings(db: sqlite_utils.Database) -> None:
    # p_unhappy: the detector's calibrated probability that the author is an unhappy customer;
    # alert_rule: why the mention alerted (detector, sentiment, rating); rating: stars, where a source has them.
    db["mentions"].add_column("p_unhappy", float)
    db["mentions"].add_column("alert_rule", str)
    db["mentions"].add_column("rating", int)


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose write transactions wait for each other instead of failing.

    In WAL mode a transaction that begins as a reader (plain BEGIN) and then writes fails at once
    with "database is locked" when another process wrote in between: the busy timeout cannot help a
    stale snapshot. A transaction that begins IMMEDIATE takes the write lock first, so a second
    writer waits up to the busy timeout. sqlite-utils' own writes go through ``atomic()`` too, and
    the connection opens no implicit transactions (``isolation_level=None``), so this is the one
    place the rule lives.
    """

    @contextlib.contextmanager
    def atomic(self):
        if self.conn.in_transaction:  # nested: a savepoint inside the transaction already held
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise


@migrations()
def m008_run_owners(db: sqlite_utils.Database) -> None:
    # Which process runs a job: a run still 'running' whose process is gone was interrupted.
    db["runs"].add_column("pid", int)
    db["runs"].add_column("host", str)


@migrations()
def m009_deliveries(db: sqlite_utils.Database) -> None:
    # An alert is the event; a delivery is its way to one target of one channel (an email address, or
    # an Apprise channel), with its own attempts, back-off and error: a failing channel or a refused
    # address never holds up another, and (alert, channel, target) is unique, so nothing goes twice.
    db["deliveries"].create(
        {"id": int, "alert_id": int, "channel": str, "target": str, "mode": str, "status": str, "attempts": int,
         "last_error": str, "next_attempt_at": str, "sent_at": str, "message_id": str, "bundle": str,
         "created_at": str},
        pk="id", not_null={"alert_id", "channel", "target", "mode", "status", "attempts", "next_attempt_at",
                           "created_at"},
        defaults={"status": "pending", "attempts": 0}, foreign_keys=[("alert_id", "alerts", "id")],
    )
    db["deliveries"].create_index(["alert_id", "channel", "target"], unique=True)
    db["deliveries"].create_index(["status", "next_attempt_at"])
    db["deliveries"].create_index(["channel", "target", "sent_at"])
    for alert in db.query("select * from alerts"):  # each recipient of an older alert: one email delivery
        for recipient in json.loads(alert["recipients"] or "[]"):
            db["deliveries"].insert({
                "alert_id": alert["id"], "channel": "email", "target": recipient, "mode": "immediate",
                "status": alert["status"], "attempts": alert["attempts"], "last_error": alert["last_error"],
                "next_attempt_at": alert["next_attempt_at"] or alert["created_at"], "sent_at": alert["sent_at"],
                "message_id": alert["message_id"], "bundle": "single", "created_at": alert["created_at"]})
    db.execute("drop view detractor_mentions")
    db.execute("drop index if exists idx_alerts_status_next_attempt_at")
    db["alerts"].transform(drop={"recipients", "status", "attempts", "last_error", "next_attempt_at", "sent_at",
                                 "message_id"})
    db.create_view("detractor_mentions", """
        select m.id, m.brand, m.source, m.author, m.text, m.url, m.created_at, m.p_unhappy, m.alert_rule,
               (select case when sum(d.status = 'pending') then 'pending' when sum(d.status = 'failed') then 'failed'
                            else 'sent' end from deliveries d where d.alert_id = a.id) as alert_status,
               (select max(d.sent_at) from deliveries d where d.alert_id = a.id) as alert_sent_at
        from mentions m left join alerts a on a.mention_id = m.id and a.kind = 'detractor_mention'
        where m.nps_class = 'detractor'""")


@migrations()
def m010_actions_and_feedback(db: sqlite_utils.Database) -> None:
    # A link in an alert acts once: its form's nonce is recorded when used, so a replay is refused.
    db["action_nonces"].create({"nonce": str, "delivery_id": int, "action": str, "used_at": str}, pk="nonce",
                               foreign_keys=[("delivery_id", "deliveries", "id")])
    # What a person said of a label: the sentiment (negative/neutral/positive) or the detector's
    # (unhappy/other), from the command line or a link in an alert.
    db["corrections"].add_column("task", str, not_null_default="sentiment")
    db["corrections"].add_column("via", str)


@migrations()
def m011_text_length(db: sqlite_utils.Database) -> None:
    # A text is stored up to [database] max_text_chars; its full length is kept here.
    db["mentions"].add_column("text_length", int)


@migrations()
def m012_model_versions(db: sqlite_utils.Database) -> None:
    # Versions of the model's heads: the one shipped, and those retrained on the team's corrections.
    # One is active; a refused retrain stays listed with its reason; mentions.model names the version.
    db["model_versions"].create(
        {"id": int, "name": str, "created_at": str, "parent": str, "head_file": str, "status": str,
         "corrections": int, "trained_on": str, "validation": str, "reason": str},
        pk="id", not_null={"name", "created_at", "head_file", "status"},
    )
    db["model_versions"].create_index(["name"], unique=True)
    # the threshold a mention was judged against: how near a miss it was
    db["mentions"].add_column("alert_threshold", float)


@migrations()
def m013_revisions_and_replies(db: sqlite_utils.Database) -> None:
    # revision: for posts that can be edited (X), the latest version stored; an edit updates the mention.
    # reply: the brand's own public answer, where the source has one (Google reviews).
    db["mentions"].add_column("revision", int)
    db["mentions"].add_column("reply", str)


@migrations()
def m014_themes(db: sqlite_utils.Database) -> None:
    # The embedding each text was scored with (float16), so that themes can be assigned again and
    # discovery can cluster without a second pass of the model. subject: "mention" or "response".
    db["text_embeddings"].create({"subject": str, "subject_id": str, "model": str, "vector": bytes},
                                 pk=("subject", "subject_id"))
    # The taxonomy in use (a copy of the configuration's, for queries), and each text's themes.
    db["themes"].create({"id": str, "name_it": str, "name_en": str, "description_it": str, "description_en": str,
                         "keywords": str, "brands": str, "taxonomy": str}, pk="id")
    for table, key, kind in (("mention_themes", "mention_id", str), ("response_themes", "response_id", int)):
        db[table].create({key: kind, "theme": str, "score": float, "similarity": float, "keyword": int,
                          "taxonomy": str}, pk=(key, "theme"))
        db[table].create_index(["theme"])
    # Candidate themes found by clustering the complaints that matched no theme.
    db["theme_candidates"].create(
        {"id": int, "brand": str, "found_at": str, "period_start": str, "period_end": str, "size": int,
         "words": str, "examples": str, "status": str}, pk="id", defaults={"status": "new"})


def open_db(path: str | Path) -> Database:
    """Open (creating if needed) and migrate the database; WAL, busy timeout, foreign keys on."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = connect(path)
        db.enable_wal()
        migrate(db)
    except (OSError, sqlite3.Error) as exc:
        raise AscoltoError(f"cannot open the database {path}: {_reason(path, exc)}") from None
    return db


def _reason(path: Path, exc: Exception) -> str:
    if path.is_dir():
        return "it is a folder (database.path names a file)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def connect(path: str | Path) -> Database:
    """A connection to a database already migrated (the web app opens one per request)."""
    # check_same_thread off: the scheduler's worker thread is not the thread that opened the file.
    db = Database(sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                  timeout=BUSY_TIMEOUT_MS / 1000))
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys = ON")
    return db


def migrate(db: sqlite_utils.Database) -> None:
    """Apply pending migrations under the write lock: two processes starting at once do not both
    apply the same one."""
    from surveys.schema import migrations as survey_migrations

    with db.atomic():
        migrations.apply(db)
        survey_migrations.apply(db)


@dataclass(frozen=True)
class MentionRow:
    id: str
    source: str
    native_id: str
    brand: str
    author: str | None
    url: str | None
    text: str
    lang: str | None
    created_at: str
    collected_at: str
    raw: str  # the item as received, JSON
    rating: int | None = None  # 1-5 stars, for sources that have them (reviews)
    text_length: int | None = None  # the text's full length, when it was cut to the storage limit
    revision: int | None = None  # an editable post's version; a higher one replaces the stored text
    reply: str | None = None  # the brand's own public answer, where the source shows it


def capped(row: MentionRow, max_chars: int) -> MentionRow:
    """The row with its text cut to ``max_chars`` (and its raw item kept only that far, ten times
    over): one 50 MB post must not cost minutes of scoring, gigabytes of memory or a 100 MB email."""
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
    ids = list(ids)
    found: dict[str, int | None] = {}
    for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(f"select id, revision from mentions where id in ({marks})", chunk).fetchall())
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


def set_cursor(db: sqlite_utils.Database, source: str, query: str, value: str, now: str) -> None:
    db["cursors"].upsert({"source": source, "query": query, "value": value, "updated_at": now}, pk=("source", "query"))
