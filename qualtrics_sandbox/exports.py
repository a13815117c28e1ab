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

import orjson

from . import export_files
from .clock import iso_millis, iso_seconds, now, parse_iso
from .faults import Faults
from .ids import new_id, new_token
from .responses import Submission, build_response, compile_survey
from .store import Store

JSON = dict[str, Any]
BATCH = 500
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
        fmt = body.get("format")
        if fmt not in export_files.EXTENSIONS:
            raise ExportError("format must be one of json, ndjson, csv, tsv (spss and xml are not served).")
        lists: dict[str, list[str] | None] = {}
        for key in ("questionIds", "surveyMetadataIds", "embeddedDataIds"):
            value = body.get(key)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ExportError(f"{key} must be a list of strings.")
            lists[key] = value
        limit = body.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ExportError("limit must be a positive integer.")
        zone = body.get("timeZone")
        if zone is not None:
            try:
                export_files.Options(time_zone=str(zone)).zone  # noqa: B018 - validates the name
            except Exception as exc:
                raise ExportError(f"Invalid timeZone: {zone}") from exc
        request = cls(
            options=export_files.Options(
                format=fmt,
                use_labels=bool(body.get("useLabels", False)),
                time_zone=str(zone) if zone else None,
                question_ids=lists["questionIds"],
                metadata_ids=lists["surveyMetadataIds"],
                embedded_ids=lists["embeddedDataIds"],
            ),
            start=_date(body, "startDate"),
            end=_date(body, "endDate"),
            limit=limit,
            in_progress=bool(body.get("exportResponsesInProgress", False)),
            continuation=bool(body.get("allowContinuation", False)),
            token=body.get("continuationToken") or None,
            compress=body.get("compress", True) is not False,
        )
        if request.in_progress and (request.continuation or request.token):
            raise ExportError("allowContinuation and continuationToken cannot be used with exportResponsesInProgress.")
        return request


def _date(body: JSON, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return iso_millis(parse_iso(str(value)))
    except ValueError as exc:
        raise ExportError(f"{key} must be an ISO 8601 date-time, e.g. 2024-01-31T00:00:00Z.") from exc


@dataclass
class Exports:
    """Starts export threads and answers progress; files live under `folder`."""

    store: Store
    folder: Path
    faults: Faults
    min_seconds: float = 1.0
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, survey: sqlite3.Row, definition: JSON, request: Request) -> str:
        """Check the continuation token, snapshot the responses, and start writing. Returns the progressId."""
        after_seq = 0
        if request.token is not None:
            token = self.store.one("SELECT * FROM continuation_tokens WHERE token = ?", (str(request.token),))
            if (
                token is None
                or token["survey_id"] != survey["id"]
                or token["superseded"]
                or self.faults.token_refused()
            ):
                raise ExportError("Invalid continuation token.", "RE_4")
            after_seq = token["after_seq"]
        newest = self.store.one("SELECT max(seq) AS seq FROM responses WHERE survey_id = ?", (survey["id"],))
        up_to = int(newest["seq"] or 0) if newest else 0
        progress_id = new_id("ES")
        params = {"after": after_seq, "upTo": up_to, "request": _request_json(request)}
        self.store.run(
            "INSERT INTO exports (progress_id, survey_id, params, status, started, token_used)"
            " VALUES (?, ?, ?, 'inProgress', ?, ?)",
            (progress_id, survey["id"], orjson.dumps(params).decode(), time.time(), request.token),
        )
        name = f"{survey['name']}.{export_files.EXTENSIONS[request.options.format]}"
        worker = threading.Thread(
            target=self._run,
            args=(progress_id, survey["id"], definition, request, after_seq, up_to, name),
            name=f"export-{progress_id}",
            daemon=True,
        )
        self.threads = [t for t in self.threads if t.is_alive()] + [worker]
        worker.start()
        return progress_id

    def _rows(self, survey_id: str, request: Request, after_seq: int, up_to: int) -> tuple[str, list[Any]]:
        sql = "FROM responses WHERE survey_id = ? AND seq > ? AND seq <= ?"
        params: list[Any] = [survey_id, after_seq, up_to]
        if request.start:
            sql += " AND recorded_at >= ?"
            params.append(request.start)
        if request.end:
            sql += " AND recorded_at < ?"
            params.append(request.end)
        return sql, params

    def _stored(self, survey_id: str, request: Request, after_seq: int, up_to: int) -> tuple[int, Iterator[bytes]]:
        sql, params = self._rows(survey_id, request, after_seq, up_to)
        found = self.store.one(f"SELECT count(*) AS n {sql}", params)  # noqa: S608 - fixed fragments only
        total = min(int(found["n"]) if found else 0, request.limit or 1 << 62)

        def batches() -> Iterator[bytes]:
            # Short batches keyed by seq, so other requests get the store in between.
            last, left = after_seq, total
            while left > 0:
                rows = self.store.all(
                    f"SELECT seq, body {sql} AND seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
                    [*params, last, min(BATCH, left)],
                )
                if not rows:
                    return
                for row in rows:
                    yield row["body"].encode()
                last, left = rows[-1]["seq"], left - len(rows)

        return total, batches()

    def _in_progress(self, survey_id: str, definition: JSON, request: Request) -> tuple[int, Iterator[bytes]]:
        """Responses still being taken, as they would be recorded now (not finished)."""
        survey = compile_survey(definition)
        rows = self.store.all("SELECT * FROM sessions WHERE survey_id = ? AND state = 'open'", (survey_id,))
        rows = rows[: request.limit] if request.limit else rows

        def bodies() -> Iterator[bytes]:
            for row in rows:
                submission = Submission(
                    values=orjson.loads(row["answers"]),
                    embedded_data=orjson.loads(row["embedded"]),
                    finished=False,
                    start_date=row["started_at"],
                    distribution_channel=row["channel"],
                )
                yield orjson.dumps(build_response(survey, row["response_id"], submission, now()))

        return len(rows), bodies()

    def _run(
        self,
        progress_id: str,
        survey_id: str,
        definition: JSON,
        request: Request,
        after_seq: int,
        up_to: int,
        name: str,
    ) -> None:
        file_id = f"{uuid.uuid4()}-def"
        path = self.folder / file_id
        try:
            if request.in_progress:
                total, bodies = self._in_progress(survey_id, definition, request)
            else:
                total, bodies = self._stored(survey_id, request, after_seq, up_to)
            self.store.run("UPDATE exports SET total = ? WHERE progress_id = ?", (total, progress_id))
            done = 0

            def tick() -> None:
                nonlocal done
                done += 1
                if done % BATCH == 0:
                    self.store.run("UPDATE exports SET done = ? WHERE progress_id = ?", (done, progress_id))

            survey = compile_survey(definition)
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
        issued = self._issue_token(survey_id, request, up_to)
        self.store.run(
            "UPDATE exports SET status = 'complete', done = total, file_id = ?, path = ?, filename = ?,"
            " token_issued = ? WHERE progress_id = ?",
            (file_id, str(path), name, issued, progress_id),
        )

    def _issue_token(self, survey_id: str, request: Request, up_to: int) -> str | None:
        if not (request.continuation or request.token):
            return None
        token = new_token()
        with self.store.transaction():
            self.store.run(
                "INSERT INTO continuation_tokens (token, survey_id, after_seq, created_at) VALUES (?, ?, ?, ?)",
                (token, survey_id, up_to, iso_seconds(now())),
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
