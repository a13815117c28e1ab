"""All sandbox state, in one SQLite database (in memory, or a file under --data)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS brands (
    id TEXT PRIMARY KEY,
    datacenter TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- role is one of brandAdmin, standard, noApi.
CREATE TABLE IF NOT EXISTS user_types (
    brand_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    api_access INTEGER NOT NULL,
    PRIMARY KEY (brand_id, id)
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    brand_id TEXT NOT NULL,
    username TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    user_type TEXT NOT NULL,
    status TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    language TEXT NOT NULL,
    time_zone TEXT,
    division_id TEXT,
    expiration_date TEXT,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    api_token TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS surveys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    brand_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    is_active INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    definition TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collaborations (
    survey_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    permissions TEXT NOT NULL,
    PRIMARY KEY (survey_id, user_id)
);
-- Demo stand-in for the human "Collaborate" step (see README).
CREATE TABLE IF NOT EXISTS auto_shares (
    brand_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    survey_id TEXT NOT NULL,
    PRIMARY KEY (brand_id, display_name, survey_id)
);
-- available_at and changed_at are sandbox-clock epoch seconds: when the response may first be
-- seen (--response-delay-seconds), and when it last became visible or was edited.
-- extras holds what only some exports show: display orders, hidden embedded data.
CREATE TABLE IF NOT EXISTS responses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    survey_id TEXT NOT NULL,
    finished INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL,
    available_at REAL NOT NULL DEFAULT 0,
    changed_at REAL NOT NULL DEFAULT 0,
    modified_at TEXT,
    extras TEXT
);
CREATE INDEX IF NOT EXISTS responses_by_survey ON responses (survey_id, seq);
-- A respondent part-way through /jfe/form; answers are kept in the respond input form.
-- state is open, finished or closed (closed = recorded as a partial response).
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    response_id TEXT NOT NULL UNIQUE,
    survey_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    page INTEGER NOT NULL DEFAULT 0,
    answers TEXT NOT NULL,
    embedded TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    last_activity REAL NOT NULL,
    plan TEXT
);
-- Used by the session closer to find abandoned sessions.
CREATE INDEX IF NOT EXISTS sessions_open ON sessions (state, last_activity);
-- status is inProgress, complete or failed.
CREATE TABLE IF NOT EXISTS exports (
    progress_id TEXT PRIMARY KEY,
    file_id TEXT UNIQUE,
    survey_id TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    path TEXT,
    filename TEXT,
    token_used TEXT,
    token_issued TEXT
);
-- A continuation token carries the moment (sandbox clock) its export saw the responses.
CREATE TABLE IF NOT EXISTS continuation_tokens (
    token TEXT PRIMARY KEY,
    survey_id TEXT NOT NULL,
    after_seq INTEGER NOT NULL,
    superseded INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    as_of REAL
);
-- One row (id 1): how far the sandbox clock runs ahead of the wall clock.
CREATE TABLE IF NOT EXISTS clock (
    id INTEGER PRIMARY KEY,
    offset_seconds REAL NOT NULL
);
-- One row (id 1): the faults set through PUT /_sandbox/faults.
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    brand_id TEXT NOT NULL,
    topics TEXT NOT NULL,
    publication_url TEXT NOT NULL,
    encrypt INTEGER NOT NULL,
    shared_key TEXT,
    successful_calls INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
-- state is pending, delivered or failed.
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL,
    url TEXT NOT NULL,
    topic TEXT NOT NULL,
    msg TEXT NOT NULL,
    hmac TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_until REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    faulted INTEGER NOT NULL DEFAULT 0
);
-- Used by the webhook worker to find due deliveries.
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    status_code INTEGER,
    error TEXT
);
"""

Params = Sequence[Any]


class Store:
    """One connection shared by all threads, serialised by a lock.

    The sandbox is small and mostly idle; one lock is simpler than a pool and
    keeps the in-memory database (which is per connection) possible.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        target = str(path) if path is not None else ":memory:"
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._last = 0.0
        with self.lock:
            if path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(SCHEMA)
            self._upgrade()
            # Created after the upgrade, which adds modified_at to older data directories.
            self._conn.execute(
                "CREATE INDEX IF NOT EXISTS responses_by_modified"
                " ON responses (survey_id, coalesce(modified_at, recorded_at), seq)"
            )
            found = self._conn.execute("SELECT offset_seconds FROM clock WHERE id = 1").fetchone()
            self._offset = float(found[0]) if found else 0.0

    def _upgrade(self) -> None:
        """Columns added later, for data directories created before them."""
        added = {
            "deliveries": [("faulted", "INTEGER NOT NULL DEFAULT 0")],
            "responses": [
                ("available_at", "REAL NOT NULL DEFAULT 0"),
                ("changed_at", "REAL NOT NULL DEFAULT 0"),
                ("modified_at", "TEXT"),
                ("extras", "TEXT"),
            ],
            "continuation_tokens": [("as_of", "REAL")],
            "sessions": [("plan", "TEXT")],
        }
        for table, columns in added.items():
            have = {row["name"] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in have:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    # --- the sandbox clock: the wall clock plus an offset moved by POST /_sandbox/clock ---

    def epoch(self) -> float:
        """Seconds on the sandbox clock; never goes backwards within a process."""
        with self.lock:
            self._last = max(self._last, time.time() + self._offset)
            return self._last

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch(), UTC)

    @property
    def clock_offset(self) -> float:
        return self._offset

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self._offset += seconds
            self._conn.execute(
                "INSERT INTO clock (id, offset_seconds) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET offset_seconds = excluded.offset_seconds",
                (self._offset,),
            )

    def one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        with self.lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def all(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self._conn.execute(sql, params).fetchall())

    def many(self, sql: str, rows: Iterable[Params]) -> int:
        with self.lock:
            return self._conn.executemany(sql, rows).rowcount

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a write and return the number of rows it touched."""
        with self.lock:
            return self._conn.execute(sql, params).rowcount

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self._conn.close()
