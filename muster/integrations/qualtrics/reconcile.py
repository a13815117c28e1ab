"""The reconciliation export per form (DESIGN §8, REFERENCE §7.1, §13): the pull path that catches
whatever the return redirect and the webhook missed, edits included.

One run of a form:
1. exports the survey's responses as JSON with `sortByLastModifiedDate`, continuing from the form's
   continuation token (new and modified responses since the last run), or with `allowContinuation`
   on the first run (the backfill of a newly attached form) — never both;
2. a token Qualtrics refuses or that expired (a 400 about the token) falls back to a date window:
   `startDate` = synced_until minus OVERLAP, by last-modified date, with `allowContinuation` again;
3. streams the downloaded file and hands its responses to `ingest` BATCH at a time (each batch its
   own short transaction), then stores the new token and synced_until — only after the whole file
   was ingested, so a run killed part-way redoes the same export next time; ingest is idempotent;
4. exports the responses still in progress (`exportResponsesInProgress`, no token: REFERENCE §13)
   so `*_started` statuses stay current.

The claim. SurveyForm has no lease fields, so a run claims its form by a conditional UPDATE on
`next_sync_at`: it moves it CLAIM ahead WHERE it still holds the value read, renews it the same way
while it works (each poll, each batch), and writes its outcome only WHERE it still holds its own
value. A killed worker stops renewing: the form is due again after CLAIM and the next run redoes
the export from the stored token. A run that finds its claim gone stops without writing anything.

Backfill progress: the form's responses are committed batch by batch, so their count against
Qualtrics' own (the sync health endpoint asks for it live) is the progress while `backfilled_at`
is empty; no extra field.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.db.models import Q
from django.utils.timezone import now

from muster.integrations.qualtrics import client, connect, exports
from muster.integrations.qualtrics.answers import changed_at, read_response
from muster.integrations.qualtrics.models import current_connection
from muster.integrations.qualtrics.scrub import scrub
from muster.surveys.answers import ResponseData
from muster.surveys.ingest import Reader, ingest
from muster.surveys.models import SurveyForm
from muster.surveys.questions import QuestionDef

logger = logging.getLogger(__name__)

TOOL = "qualtrics"
# Responses per ingest call, each its own transaction: about 100 ms of writing on SQLite at the
# ingest bench's 2,000 responses/s, so a webhook never waits long for the write lock (DESIGN §8).
BATCH = 200
OVERLAP = timedelta(hours=1)  # a date-window fallback starts this long before synced_until
# How far a run pushes next_sync_at ahead while it works, and how often it renews that.
CLAIM = timedelta(minutes=3)
RENEW_EVERY = 30.0  # seconds
EXPORT_TIMEOUT = 15 * 60.0  # a large backfill's export may take minutes to prepare
POLL_MAX = 5.0  # polite: at most one progress call every 5 s once an export is slow
# Cadence: at least every IDLE for forms of active studies, every HOT while a participant handed
# off in the last HANDED_OFF has not come back.
IDLE = timedelta(minutes=5)
HOT = timedelta(seconds=30)
HANDED_OFF = timedelta(hours=1)
# After a transient failure: 1 min, 2, 4, ... up to an hour.
BACKOFF_FIRST, BACKOFF_MAX = timedelta(minutes=1), timedelta(hours=1)


class LostClaim(Exception):
    """Another run holds the form now (ours lapsed): stop, write nothing."""


@dataclass
class Claim:
    """A run's hold on one form: the value it set next_sync_at to."""

    form_id: int
    value: datetime
    renewed: float = field(default_factory=time.monotonic)

    def _holding(self) -> Any:
        return SurveyForm.objects.filter(pk=self.form_id, next_sync_at=self.value)

    def renew(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.renewed < RENEW_EVERY:
            return
        value = now() + CLAIM
        if not self._holding().update(next_sync_at=value):
            raise LostClaim
        self.value, self.renewed = value, time.monotonic()

    def write(self, **changes: Any) -> None:
        """Writes to the form while the claim is still ours (the claim moves with next_sync_at)."""
        if not self._holding().update(**changes):
            raise LostClaim
        if "next_sync_at" in changes:
            self.value = changes["next_sync_at"]


def due() -> Q:
    return Q(next_sync_at__lte=now()) | Q(next_sync_at=None)


def claim(form: SurveyForm, until: datetime | None = None) -> Claim | None:
    """Claims a due form by conditional UPDATE: only WHERE next_sync_at still holds what was read.
    Of two claims on one reading, exactly one wins; None means another run has it (or it is not due)."""
    value = until or now() + CLAIM
    read = Q(next_sync_at=form.next_sync_at) if form.next_sync_at else Q(next_sync_at=None)
    found = SurveyForm.objects.filter(due(), read, pk=form.pk, detached_at=None, sync_stopped="")
    if not found.update(next_sync_at=value):
        return None
    form.next_sync_at = value
    return Claim(form.pk, value)


def backoff(failures: int) -> timedelta:
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1))


@dataclass
class Result:
    # synced | failed | stopped (the survey is gone) | deferred (the call budget is short)
    # | busy (another run holds the form) | lost (our claim lapsed mid-run)
    outcome: str
    counts: Counter[str] = field(default_factory=Counter)  # ingest outcomes: created, updated, ...
    message: str = ""
    fell_back: bool = False  # the token was refused: a date window was exported instead

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items()))
        return "; ".join(part for part in (self.outcome, counts, self.message) if part)


def reconcile(form: SurveyForm, held: Claim | None = None) -> Result:
    """One reconciliation run of a form (see the module's docstring). Claims the form itself
    unless the caller (the scheduler's task) already did."""
    held = held or claim(form)
    if held is None:
        return Result("busy")
    try:
        held.renew(force=True)
        form = SurveyForm.objects.select_related("study").get(pk=form.pk)
        return _Run(form, held).go()
    except LostClaim:
        logger.warning("Reconciliation of form %s stopped: another run took it over", form.pk)
        return Result("lost")


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


class _Run:
    def __init__(self, form: SurveyForm, held: Claim) -> None:
        self.form = form
        self.held = held
        self.result = Result("synced")

    def go(self) -> Result:
        connection = current_connection()
        if connection is None or connection.is_broken or connection.brand_id != self.form.brand:
            return self.failed("Muster is not connected to this survey's Qualtrics brand: Settings → Connected Apps.")
        try:
            with connect.connection_account(connection) as account, exports.temp_dir() as folder:
                return self._sync(account, folder)
        except client.QualtricsRateLimited as e:
            if e.status is None:
                # Muster's own per-connection budget is spent: wait for it, that is no failure.
                retry = now() + timedelta(seconds=e.retry_after or 60)
                self.held.write(next_sync_at=retry)
                return Result("deferred", self.result.counts, "the call budget is spent; trying again shortly")
            return self.failed(f"Qualtrics is busy (too many requests: {e.message})", e.retry_after)
        except client.QualtricsError as e:
            return self.failed(f"Qualtrics could not export the responses ({e.message})")
        except exports.NotEnoughSpace as e:
            return self.failed(f"Muster's disk is nearly full: {e}")
        except exports.UNREADABLE as e:
            return self.failed(f"Qualtrics sent an export Muster could not read ({type(e).__name__}: {e})")
        except LostClaim:
            raise
        except Exception as e:
            # Crash-loop guard: a bug or a database hiccup is shown and backs off like any failure.
            self.failed(f"Muster could not finish the reconciliation ({type(e).__name__}: {e})")
            raise

    def _sync(self, account: client.Account, folder: Path) -> Result:
        try:
            token, synced_until = self._completed(account, folder)
        except (client.QualtricsNotFound, client.QualtricsAuthError) as e:
            gone = self._gone(account, e)
            if gone:
                return self.stopped(gone)
            raise
        changes: dict[str, Any] = {"sync_cursor": token or "", "synced_until": synced_until}
        if self.form.backfilled_at is None:
            changes["backfilled_at"] = now()
        self.held.write(**changes)
        self._in_progress(account, folder)
        finished = now()
        # Look again HOT later; when it comes due, the scheduler runs it only if it is stale or a
        # handed-off participant has not come back, and otherwise looks again (polling.py).
        self.held.write(sync_error="", sync_failures=0, last_synced_at=finished, next_sync_at=finished + HOT)
        return self.result

    # ------------------------------------------------------------ the exports

    def _completed(self, account: client.Account, folder: Path) -> tuple[str | None, datetime | None]:
        """The new and modified responses since the form's token, all ingested; (token, synced_until)."""
        form = self.form
        options: dict[str, Any] = {"format": "json", "sortByLastModifiedDate": True}
        if form.sync_cursor:
            options["continuationToken"] = form.sync_cursor
        else:
            options |= self._window()
        try:
            downloaded = self._export(account, folder, options)
        except client.QualtricsError as e:
            if "continuationToken" not in options or not _token_refused(e):
                raise
            logger.info("Form %s: continuation token refused (%s); exporting a date window", form.pk, e.message)
            self.result.fell_back = True
            options = {"format": "json", "sortByLastModifiedDate": True, **self._window()}
            downloaded = self._export(account, folder, options)
        newest = self._ingest_file(downloaded.path)
        marks = [m for m in (form.synced_until, newest) if m is not None]
        return downloaded.continuation_token, max(marks) if marks else None

    def _window(self) -> dict[str, Any]:
        """A fresh start: everything since synced_until (less the overlap), or everything."""
        window: dict[str, Any] = {"allowContinuation": True}
        if self.form.synced_until is not None:
            start = self.form.synced_until - OVERLAP
            window["startDate"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        return window

    def _in_progress(self, account: client.Account, folder: Path) -> None:
        """Responses not yet complete (their *_started statuses); sortByLastModifiedDate and a
        continuation token have no place here (REFERENCE §13)."""
        downloaded = self._export(account, folder, {"format": "json", "exportResponsesInProgress": True})
        self._ingest_file(downloaded.path)

    def _export(self, account: client.Account, folder: Path, options: dict[str, Any]) -> exports.Downloaded:
        return exports.run_export(
            account, self.form.survey_id, options, folder, EXPORT_TIMEOUT, POLL_MAX, on_poll=self.held.renew
        )

    # ------------------------------------------------------------ ingestion

    def _ingest_file(self, path: Path) -> datetime | None:
        """Hands the file's responses to ingest, BATCH at a time; the newest last-modified date seen."""
        newest: datetime | None = None
        batch: list[dict[str, Any]] = []
        try:
            for element in exports.elements(path):
                batch.append(element)
                moment = changed_at(element.get("values") or {})
                if moment is not None and (newest is None or moment > newest):
                    newest = moment
                if len(batch) >= BATCH:
                    self._ingest(batch)
                    batch = []
                    self.held.renew()
            if batch:
                self._ingest(batch)
        finally:
            path.unlink(missing_ok=True)
        return newest

    def _ingest(self, batch: Sequence[dict[str, Any]]) -> None:
        # ingest counts the unknown keys of what it creates or updates on the form itself.
        for done in ingest(TOOL, self.form.brand, self.form.survey_id, [_reader(e) for e in batch]):
            self.result.counts[done.outcome] += 1

    # ------------------------------------------------------------ outcomes

    def _gone(self, account: client.Account, error: client.QualtricsError) -> str:
        """Why the survey is gone, confirmed by looking it up (404); "" when it is still there.
        An export's error alone never stops a form: a 403 may be a permission taken back."""
        try:
            client.get_survey_definition(account, self.form.survey_id)
        except client.QualtricsNotFound as e:
            return (
                f"The survey {self.form.survey_id} is gone from Qualtrics ({e.message}); Muster stopped "
                f"polling it on {_stamp(now())}. Its responses are kept; attach another survey to go on."
            )
        except client.QualtricsError:
            return ""
        return ""

    def failed(self, what: str, retry_after: float | None = None) -> Result:
        failures = self.form.sync_failures + 1
        wait = backoff(failures)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        at = now()
        error = scrub(f"{_stamp(at)}: {what}. Muster tries again at {_stamp(at + wait)}.")
        self.held.write(sync_error=error, sync_failures=failures, next_sync_at=at + wait)
        logger.warning("Reconciliation of form %s failed: %s", self.form.pk, error)
        return Result("failed", self.result.counts, error, self.result.fell_back)

    def stopped(self, why: str) -> Result:
        self.held.write(sync_stopped=why, next_sync_at=None)
        logger.warning("Reconciliation of form %s stopped: %s", self.form.pk, why)
        return Result("stopped", self.result.counts, why)


def _token_refused(error: client.QualtricsError) -> bool:
    """A 400 about the continuation token: refused, expired or superseded."""
    return error.status == 400 and "token" in error.message.lower()


def _reader(element: dict[str, Any]) -> Reader:
    def reader(questions: Sequence[QuestionDef], participant_field: str) -> ResponseData:
        values, labels = element.get("values") or {}, element.get("labels") or {}
        return read_response(
            questions, values, labels, participant_field, str(element.get("responseId") or ""), raw=element
        )

    return reader
