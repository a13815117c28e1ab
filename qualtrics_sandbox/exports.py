"""The response-export life cycle: start → progress → file, with continuation tokens.

Each export is written by its own background thread, in batches, so progress
really advances; `min_seconds` also spreads it over time like Qualtrics (whose
recorded polls sit at 0 % for a while), so clients meet `inProgress`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from . import definitions as d
from . import export_files
from .clock import iso_millis, parse_iso
from .faults import Faults
from .ids import new_id, new_token
from .logic import Chooser
from .responses import Compiled, Submission, build_response, compile_survey
from .store import Store

JSON = dict[str, Any]
BATCH = 500
# A response's last-modified date: its last edit, or its recorded date if never changed [S].
LAST_MODIFIED = "coalesce(modified_at, recorded_at)"
log = logging.getLogger(__name__)

KNOWN_FIELDS = {
    "format",
    "useLabels",
    "startDate",
    "endDate",
    "timeZone",
    "limit",
    "seenUnansweredRecode",
    "multiselectSeenUnansweredRecode",
    "includeDisplayOrder",
    "questionIds",
    "surveyMetadataIds",
    "embeddedDataIds",
    "breakoutSets",
    "compress",
    "filterId",
    "exportResponsesInProgress",
    "allowContinuation",
    "continuationToken",
    "formatDecimalAsComma",
    "newlineReplacement",
    "includeLabelColumns",
    "sortByLastModifiedDate",
}
# name -> default; each must be a JSON boolean when given.
BOOLEANS = {
    "useLabels": False,
    "includeDisplayOrder": False,
    "includeLabelColumns": False,
    "breakoutSets": True,
    "compress": True,
    "exportResponsesInProgress": False,
    "allowContinuation": False,
    "sortByLastModifiedDate": False,
    "formatDecimalAsComma": False,
}
FORMATS = ("csv", "tsv", "json", "ndjson", "spss", "xml")
TOKEN_LIFETIME = 7 * 24 * 3600  # "Continuation tokens expire after a week" [S]


class ExportError(ValueError):
    """An export request Qualtrics would refuse with 400."""

    def __init__(self, message: str, code: str = "RE_1") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Request:
    """A validated export request."""

    options: export_files.Options
    start: str | None = None
    end: str | None = None
    limit: int | None = None
    in_progress: bool = False
    continuation: bool = False
    token: str | None = None
    compress: bool = True

    @classmethod
    def parse(cls, body: JSON) -> Request:
        unknown = sorted(set(body) - KNOWN_FIELDS)
        if unknown:
            # Wording seen in a note about Qualtrics' answer to an unsupported field.
            raise ExportError(f"Unknown fields are set: {', '.join(unknown)}")
        flags = {}
        for key, default in BOOLEANS.items():
            value = body.get(key, default)
            if not isinstance(value, bool):
                raise ExportError(f"{key} must be a JSON boolean (true or false), not {orjson.dumps(value).decode()}.")
            flags[key] = value
        # Combinations the spec forbids [S].
        if "continuationToken" in body and "allowContinuation" in body:
            raise ExportError(
                "continuationToken implies allowContinuation; a request must not also include allowContinuation."
            )
        if "filterId" in body and flags["allowContinuation"]:
            raise ExportError("A filterId cannot be used with allowContinuation.")
        if "filterId" in body and flags["sortByLastModifiedDate"]:
            raise ExportError("A filterId cannot be used with sortByLastModifiedDate.")
        if flags["includeLabelColumns"] and flags["useLabels"]:
            raise ExportError("includeLabelColumns cannot be used with useLabels.")
        in_progress = flags["exportResponsesInProgress"]
        if in_progress and (flags["allowContinuation"] or "continuationToken" in body):
            raise ExportError("allowContinuation and continuationToken cannot be used with exportResponsesInProgress.")
        if "filterId" in body:
            raise ExportError("filterId is not implemented by the sandbox (it has no saved filters).", "RE_5")
        fmt = body.get("format")
        if fmt is None:
            raise ExportError("format is required (csv, tsv, json or ndjson).")
        if fmt in ("spss", "xml"):
            raise ExportError(f"format {fmt} is not implemented by the sandbox; use csv, tsv, json or ndjson.", "RE_5")
        if fmt not in FORMATS:
            raise ExportError(f"format must be one of {', '.join(FORMATS)}.")
        if fmt in ("json", "ndjson"):
            # Column options that would change a CSV; JSON keeps arrays, numbers and its labels object.
            for key, changes in (
                ("includeLabelColumns", True),
                ("formatDecimalAsComma", True),
                ("breakoutSets", False),
            ):
                if flags[key] == changes:
                    raise ExportError(f"{key}: {str(changes).lower()} applies to csv and tsv exports only.", "RE_5")
        lists: dict[str, list[str] | None] = {}
        for key in ("questionIds", "surveyMetadataIds", "embeddedDataIds"):
            value = body.get(key)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ExportError(f"{key} must be a list of strings.")
            lists[key] = value
        limit = body.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ExportError("limit must be a positive integer.")
        recodes = {}
        for key in ("seenUnansweredRecode", "multiselectSeenUnansweredRecode"):
            value = body.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ExportError(f"{key} must be an integer.")
            recodes[key] = value
        newline = body.get("newlineReplacement")
        if newline is not None and not isinstance(newline, str):
            raise ExportError("newlineReplacement must be a string.")
        zone = body.get("timeZone")
        if zone is not None:
            try:
                ZoneInfo(str(zone))
            except Exception as exc:
                raise ExportError(f"Invalid timeZone: {zone}") from exc
        token = body.get("continuationToken")
        if token is not None and (not isinstance(token, str) or not token):
            raise ExportError("continuationToken must be a non-empty string.")
        seen = recodes["seenUnansweredRecode"]
        multi = recodes["multiselectSeenUnansweredRecode"]
        return cls(
            options=export_files.Options(
                format=fmt,
                use_labels=flags["useLabels"],
                time_zone=str(zone) if zone else None,
                question_ids=lists["questionIds"],
                metadata_ids=lists["surveyMetadataIds"],
                embedded_ids=lists["embeddedDataIds"],
                display_order=flags["includeDisplayOrder"],
                label_columns=flags["includeLabelColumns"],
                seen_unanswered=seen,
                # "If not set, this will be the seenUnansweredRecode value" [S].
                multi_seen_unanswered=multi if multi is not None else seen,
                newline=newline,
                breakout=flags["breakoutSets"],
                decimal_comma=flags["formatDecimalAsComma"],
                last_modified=flags["sortByLastModifiedDate"] and not in_progress,
            ),
            start=_date(body, "startDate"),
            end=_date(body, "endDate"),
            limit=limit,
            in_progress=in_progress,
            continuation=flags["allowContinuation"],
            token=token,
            compress=flags["compress"],
        )


def _date(body: JSON, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return iso_millis(parse_iso(str(value)))
    except ValueError as exc:
        raise ExportError(f"{key} must be an ISO 8601 date-time, e.g. 2024-01-31T00:00:00Z.") from exc


def check_ids(request: Request, survey: Compiled) -> None:
    """questionIds, embeddedDataIds and surveyMetadataIds must name what the survey has."""
    options = request.options
    known_questions = set(d.live_question_ids(survey.definition))
    for key, given, known in (
        ("questionIds", options.question_ids, known_questions),
        ("embeddedDataIds", options.embedded_ids, set(survey.declared)),
        ("surveyMetadataIds", options.metadata_ids, export_files.METADATA_IDS),
    ):
        wrong = sorted(set(given or []) - known)
        if wrong:
            raise ExportError(f"{key} names what this survey does not have: {', '.join(wrong)}")


@dataclass
class Exports:
    """Starts export threads and answers progress; files live under `folder`."""

    store: Store
    folder: Path
    faults: Faults
    min_seconds: float = 1.0
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, survey: sqlite3.Row, definition: JSON, request: Request) -> str:
        """Check the ids and the continuation token, take the snapshot moment, start writing.

        The snapshot is a moment on the sandbox clock: the export holds the responses available
        (and, with sortByLastModifiedDate, changed) by then; a token carries it to the next export.
        """
        compiled = compile_survey(definition)
        check_ids(request, compiled)
        since: float | None = None
        if request.token is not None:
            token = self.store.one("SELECT * FROM continuation_tokens WHERE token = ?", (request.token,))
            if token is None or token["survey_id"] != survey["id"] or token["superseded"] or token["as_of"] is None:
                raise ExportError("Invalid continuation token.", "RE_4")
            if self.store.epoch() - parse_iso(token["created_at"]).timestamp() > TOKEN_LIFETIME:
                raise ExportError("The continuation token has expired (tokens last a week).", "RE_4")
            if self.faults.token_refused():
                raise ExportError("Invalid continuation token.", "RE_4")
            since = float(token["as_of"])
        as_of = self.store.epoch()
        progress_id = new_id("ES")
        params = {"since": since, "asOf": as_of, "request": _request_json(request)}
        self.store.run(
            "INSERT INTO exports (progress_id, survey_id, params, status, started, token_used)"
            " VALUES (?, ?, ?, 'inProgress', ?, ?)",
            (progress_id, survey["id"], orjson.dumps(params).decode(), time.time(), request.token),
        )
        name = f"{survey['name']}.{export_files.EXTENSIONS[request.options.format]}".replace("/", "-")
        worker = threading.Thread(
            target=self._run,
            args=(progress_id, survey["id"], compiled, request, since, as_of, name),
            name=f"export-{progress_id}",
            daemon=True,
        )
        self.threads = [t for t in self.threads if t.is_alive()] + [worker]
        worker.start()
        return progress_id

    def _rows(self, survey_id: str, request: Request, since: float | None, as_of: float) -> tuple[str, list[Any]]:
        sql = "FROM responses WHERE survey_id = ? AND available_at <= ?"
        params: list[Any] = [survey_id, as_of]
        if since is not None:
            # Continuation: what became available since the token's export; with
            # sortByLastModifiedDate also what was edited since [S].
            sql += " AND changed_at > ?" if request.options.last_modified else " AND available_at > ?"
            params.append(since)
        date = LAST_MODIFIED if request.options.last_modified else "recorded_at"
        if request.start:
            sql += f" AND {date} >= ?"
            params.append(request.start)
        if request.end:
            sql += f" AND {date} < ?"
            params.append(request.end)
        return sql, params

    def _stored(
        self, survey_id: str, request: Request, since: float | None, as_of: float
    ) -> tuple[int, Iterator[export_files.Stored]]:
        sql, params = self._rows(survey_id, request, since, as_of)
        found = self.store.one(f"SELECT count(*) AS n {sql}", params)  # noqa: S608 - fixed fragments only
        total = min(int(found["n"]) if found else 0, request.limit or 1 << 62)
        by_date = request.options.last_modified
        key = LAST_MODIFIED if by_date else "''"
        # Keyset paging that the indexes serve: (survey, seq), or (survey, last-modified, seq).
        after = f"AND ({LAST_MODIFIED}, seq) > (?, ?)" if by_date else "AND seq > ?"
        order = f"{LAST_MODIFIED}, seq" if by_date else "seq"

        def batches() -> Iterator[export_files.Stored]:
            # Short batches, so other requests get the store in between.
            last: tuple[str, int] = ("", 0)
            left = total
            while left > 0:
                rows = self.store.all(
                    f"SELECT seq, body, extras, {key} AS sort_key {sql} {after} ORDER BY {order} LIMIT ?",  # noqa: S608
                    [*params, *(last if by_date else last[1:]), min(BATCH, left)],
                )
                if not rows:
                    return
                for row in rows:
                    extras = row["extras"].encode() if row["extras"] else None
                    yield export_files.Stored(row["body"].encode(), extras, row["sort_key"] or None)
                last, left = (rows[-1]["sort_key"], rows[-1]["seq"]), left - len(rows)

        return total, batches()

    def _in_progress(
        self, survey_id: str, survey: Compiled, request: Request
    ) -> tuple[int, Iterator[export_files.Stored]]:
        """Responses still being taken, as they would be recorded now (not finished)."""
        rows = self.store.all("SELECT * FROM sessions WHERE survey_id = ? AND state = 'open'", (survey_id,))
        rows = rows[: request.limit] if request.limit else rows

        def bodies() -> Iterator[export_files.Stored]:
            for row in rows:
                submission = Submission(
                    values=orjson.loads(row["answers"]),
                    embedded_data=orjson.loads(row["embedded"]),
                    finished=False,
                    start_date=row["started_at"],
                    response_type=row["channel"],
                )
                plan = Chooser(decided=orjson.loads(row["plan"]) if row["plan"] else {})
                body, extras = build_response(survey, row["response_id"], submission, self.store.now(), plan)
                yield export_files.Stored(orjson.dumps(body), orjson.dumps(extras) if extras else None, None)

        return len(rows), bodies()

    def _run(
        self,
        progress_id: str,
        survey_id: str,
        survey: Compiled,
        request: Request,
        since: float | None,
        as_of: float,
        name: str,
    ) -> None:
        file_id = f"{uuid.uuid4()}-def"
        path = self.folder / file_id
        try:
            if request.in_progress:
                total, bodies = self._in_progress(survey_id, survey, request)
            else:
                total, bodies = self._stored(survey_id, request, since, as_of)
            self.store.run("UPDATE exports SET total = ? WHERE progress_id = ?", (total, progress_id))
            done = 0

            def tick() -> None:
                nonlocal done
                done += 1
                if done % BATCH == 0:
                    self.store.run("UPDATE exports SET done = ? WHERE progress_id = ?", (done, progress_id))

            with path.open("wb") as target:
                if request.compress:
                    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                        with archive.open(name, "w", force_zip64=True) as member:
                            export_files.write(member, survey, bodies, request.options, tick)
                else:
                    export_files.write(target, survey, bodies, request.options, tick)
            failed = self.faults.export_fails()
        except Exception:
            log.exception("export %s failed", progress_id)
            failed = True
        if failed:
            path.unlink(missing_ok=True)
            self.store.run("UPDATE exports SET status = 'failed' WHERE progress_id = ?", (progress_id,))
            return
        issued = self._issue_token(survey_id, request, as_of)
        self.store.run(
            "UPDATE exports SET status = 'complete', done = total, file_id = ?, path = ?, filename = ?,"
            " token_issued = ? WHERE progress_id = ?",
            (file_id, str(path), name, issued, progress_id),
        )

    def _issue_token(self, survey_id: str, request: Request, as_of: float) -> str | None:
        if not (request.continuation or request.token):
            return None
        token = new_token()
        with self.store.transaction():
            self.store.run(
                "INSERT INTO continuation_tokens (token, survey_id, after_seq, created_at, as_of)"
                " VALUES (?, ?, 0, ?, ?)",
                (token, survey_id, iso_millis(self.store.now()), as_of),
            )
            if request.token:
                # Once the next export has completed, the older token is stale.
                self.store.run("UPDATE continuation_tokens SET superseded = 1 WHERE token = ?", (request.token,))
        return token

    def progress(self, survey_id: str, progress_id: str) -> JSON | None:
        row = self.store.one("SELECT * FROM exports WHERE progress_id = ? AND survey_id = ?", (progress_id, survey_id))
        if row is None:
            return None
        elapsed = time.time() - row["started"]
        by_time = 1.0 if self.min_seconds <= 0 else min(1.0, elapsed / self.min_seconds)
        by_rows = 1.0 if row["status"] == "complete" else (row["done"] / row["total"] if row["total"] else 0.0)
        percent = round(100.0 * min(by_time, by_rows), 1)
        if row["status"] == "failed":
            return {"percentComplete": percent, "status": "failed"}
        if row["status"] == "complete" and by_time >= 1.0:
            result: JSON = {"fileId": row["file_id"], "percentComplete": 100.0, "status": "complete"}
            if row["token_issued"]:
                result["continuationToken"] = row["token_issued"]
            return result
        return {"percentComplete": min(percent, 99.9), "status": "inProgress"}

    def file(self, survey_id: str, file_id: str) -> sqlite3.Row | None:
        row = self.store.one(
            "SELECT * FROM exports WHERE file_id = ? AND survey_id = ? AND status = 'complete'", (file_id, survey_id)
        )
        if row is None or time.time() - row["started"] < self.min_seconds:
            return None
        return row

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)


def _request_json(request: Request) -> JSON:
    return {
        "format": request.options.format,
        "useLabels": request.options.use_labels,
        "startDate": request.start,
        "endDate": request.end,
        "limit": request.limit,
        "exportResponsesInProgress": request.in_progress,
        "allowContinuation": request.continuation,
        "compress": request.compress,
    }
