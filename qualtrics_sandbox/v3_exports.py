"""Response exports under `/API/v3/surveys/{surveyId}/export-responses` (REFERENCE §7.1)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
from flask import Blueprint, Response, send_file

from . import surveys
from .auth import api_user, visible_survey
from .context import current_sandbox
from .envelope import bad_request, forbidden, json_body, not_found, success
from .exports import ExportError, Request

bp = Blueprint("v3_exports", __name__)

MIMETYPES = {
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}


def _export_survey(survey_id: str) -> sqlite3.Row:
    user = api_user()
    row = visible_survey(user, survey_id)
    if not surveys.has_permission(current_sandbox().store, user, row, "result", "downloadSurveyResults"):
        raise forbidden("You do not have permission to export responses of this survey.", "RS_3")
    return row


@bp.post("/API/v3/surveys/<survey_id>/export-responses")
def start_export(survey_id: str) -> Response:
    sandbox = current_sandbox()
    row = _export_survey(survey_id)
    try:
        request = Request.parse(json_body())
        request.options.textiq = sandbox.textiq
        progress_id = sandbox.exports.start(row, surveys.stored_definition(row, sandbox.public_url), request)
    except ExportError as exc:
        raise bad_request(str(exc), exc.code) from exc
    return success({"progressId": progress_id, "percentComplete": 0.0, "status": "inProgress"})


@bp.get("/API/v3/surveys/<survey_id>/export-responses/<progress_id>")
def export_progress(survey_id: str, progress_id: str) -> Response:
    _export_survey(survey_id)
    result = current_sandbox().exports.progress(survey_id, progress_id)
    if result is None:
        raise not_found("Export not found.", "RE_2")
    return success(result)


@bp.get("/API/v3/surveys/<survey_id>/export-responses/<file_id>/file")
def export_file(survey_id: str, file_id: str) -> Response:
    _export_survey(survey_id)
    row = current_sandbox().exports.file(survey_id, file_id)
    if row is None:
        raise not_found("File not found or not ready.", "RE_3")
    request = orjson.loads(row["params"])["request"]
    path = Path(row["path"])
    if request["compress"]:
        return send_file(path, mimetype="application/zip", download_name=f"{path.stem}.zip")
    return send_file(path, mimetype=MIMETYPES[request["format"]], download_name=row["filename"])
