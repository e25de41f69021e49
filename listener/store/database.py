"""The SQLite file: connections, write transactions that wait for each other, and the schema applied.

Datasette reads the same file while the bot writes, hence WAL and a busy timeout. Several processes
may write (the bot, the survey page, an import): every write transaction begins IMMEDIATE, so a
second writer waits for the first instead of failing (``Database.atomic``). The tables are two named
sets of registered migrations: the listener's (``schema``) and the surveys' (``survey_schema``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import sqlite_utils

from listener.kernel.errors import AscoltoError

BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for another one before giving up
MAX_PARAMETERS = 500  # per statement, under SQLite's bound-parameter limit


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
    from .schema import migrations
    from .survey_schema import migrations as survey_migrations

    with db.atomic():
        migrations.apply(db)
        survey_migrations.apply(db)


def in_chunks(values: Iterable, size: int = MAX_PARAMETERS) -> Iterator[list]:
    """``values`` in lists of at most ``size``: for ``where x in (?, ?, ...)`` over many values."""
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def where(*conditions: tuple[str, object]) -> tuple[str, list]:
    """`` where a = ? and b < ?`` and its arguments, from (condition, value) pairs whose value is set
    (a filter left empty filters nothing); ``("", [])`` when none is."""
    chosen = [(condition, value) for condition, value in conditions if value]
    if not chosen:
        return "", []
    return " where " + " and ".join(c for c, _ in chosen), [v for _, v in chosen]


def marks(values: Sequence) -> str:
    """``?, ?, ?`` for ``values``: the placeholders of an ``in (...)``."""
    return ",".join("?" * len(values))
