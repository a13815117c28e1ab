"""Respondents part-way through `/jfe/form`: their answers so far, and closing abandoned ones.

A session that sees no activity for the survey's partial-data window is recorded
as a partial response (finished 0), which fires `partialResponse` webhooks.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

from . import surveys
from .clock import iso_seconds
from .ids import new_id
from .logic import Chooser
from .responses import Submission
from .store import Store

if TYPE_CHECKING:
    from .context import Sandbox

JSON = dict[str, Any]
log = logging.getLogger(__name__)

_WINDOW = re.compile(r"^\+?\s*(\d+)\s*(minute|hour|day|week|month|year)s?$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800, "month": 2592000, "year": 31536000}


def partial_window(definition: JSON, override: float | None) -> float:
    """Seconds of inactivity before a session closes; SurveyOptions.PartialData reads like "+1 week"."""
    if override is not None:
        return override
    raw = str((definition.get("SurveyOptions") or {}).get("PartialData") or "+1 week").strip().lower()
    found = _WINDOW.match(raw)
    if found is None:
        return float(_UNIT_SECONDS["week"])
    return float(int(found.group(1)) * _UNIT_SECONDS[found.group(2)])


def start(store: Store, survey_id: str, channel: str, embedded: JSON) -> sqlite3.Row:
    session_id = new_id("FS")
    store.run(
        "INSERT INTO sessions (id, response_id, survey_id, channel, answers, embedded, state, started_at,"
        " last_activity) VALUES (?, ?, ?, ?, '{}', ?, 'open', ?, ?)",
        (
            session_id,
            new_id("R"),
            survey_id,
            channel,
            orjson.dumps(embedded).decode(),
            iso_seconds(store.now()),
            time.time(),
        ),
    )
    row = get(store, session_id)
    assert row is not None
    return row


def get(store: Store, session_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = store.one("SELECT * FROM sessions WHERE id = ?", (session_id,))
    return row


def chooser(session: sqlite3.Row) -> Chooser:
    """The respondent's randomizer and choice-order decisions, made once and kept with the session."""
    return Chooser(decided=orjson.loads(session["plan"]) if session["plan"] else {})


def save(store: Store, session_id: str, answers: JSON, page: int, plan: Chooser) -> None:
    store.run(
        "UPDATE sessions SET answers = ?, page = ?, plan = ?, last_activity = ? WHERE id = ? AND state = 'open'",
        (orjson.dumps(answers).decode(), page, orjson.dumps(plan.decided).decode(), time.time(), session_id),
    )


def record(sandbox: Sandbox, session: sqlite3.Row, finished: bool) -> bool:
    """Record the session's response once (claimed by a conditional UPDATE); False if already done."""
    store = sandbox.store
    claimed = store.run(
        "UPDATE sessions SET state = ? WHERE id = ? AND state = 'open'",
        ("finished" if finished else "closed", session["id"]),
    )
    if claimed != 1:
        # Someone else (the closer or a double submit) got there first.
        return False
    row = surveys.survey_row(store, session["survey_id"])
    if row is None:
        return False
    submission = Submission(
        values=orjson.loads(session["answers"]),
        embedded_data=orjson.loads(session["embedded"]),
        finished=finished,
        start_date=session["started_at"],
        response_type=session["channel"],
    )
    surveys.record_response(
        store,
        row,
        submission,
        sandbox.public_url,
        response_id=session["response_id"],
        available_in=sandbox.response_delay(),
        chooser=chooser(session),
    )
    sandbox.worker.wake()
    return True


def close_abandoned(sandbox: Sandbox) -> int:
    """Record every session idle for longer than its survey's partial-data window."""
    store = sandbox.store
    closed = 0
    windows: dict[str, float] = {}
    for session in store.all("SELECT * FROM sessions WHERE state = 'open' ORDER BY last_activity"):
        survey_id = session["survey_id"]
        if survey_id not in windows:
            row = surveys.survey_row(store, survey_id)
            definition = orjson.loads(row["definition"]) if row is not None else {}
            windows[survey_id] = partial_window(definition, sandbox.partial_seconds)
        if time.time() - session["last_activity"] < windows[survey_id]:
            continue
        try:
            closed += record(sandbox, session, finished=False)
        except Exception:
            log.exception("closing session %s failed", session["id"])
    return closed


class SessionCloser:
    """A background thread that closes abandoned sessions every `interval` seconds."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def interval(self) -> float:
        short = self.sandbox.partial_seconds
        return 1.0 if short is None else max(0.05, min(1.0, short / 4))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="session-closer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            close_abandoned(self.sandbox)
