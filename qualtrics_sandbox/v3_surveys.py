"""Surveys, sharing, survey definitions and single responses under `/API/v3`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from . import accounts, editing, schema, surveys
from . import definitions as d
from .auth import api_user, visible_survey
from .context import current_sandbox
from .envelope import accepted, bad_request, forbidden, json_body, meta_only, not_found, strict_bool, success
from .export_files import textiq_values
from .paging import PAGE_SIZE, offset, page
from .responses import InvalidAnswerError, Submission, compile_survey

bp = Blueprint("v3_surveys", __name__)


@bp.get("/API/v3/surveys")
def list_surveys() -> Response:
    user = api_user()
    start = offset()
    rows = surveys.visible_surveys(current_sandbox().store, user, start, PAGE_SIZE + 1)
    return success(page([surveys.survey_summary(r) for r in rows], start))


@bp.get("/API/v3/surveys/<survey_id>")
def get_survey(survey_id: str) -> Response:
    user = api_user()
    sandbox = current_sandbox()
    row = visible_survey(user, survey_id)
    definition = surveys.stored_definition(row, sandbox.public_url)
    summary = surveys.survey_summary(row)
    summary["brandId"] = row["brand_id"]
    counts = surveys.response_counts(sandbox.store, survey_id)
    return success(d.legacy_survey(definition, summary, counts))


@bp.put("/API/v3/surveys/<survey_id>")
def update_survey(survey_id: str) -> Response:
    user = api_user()
    store = current_sandbox().store
    row = visible_survey(user, survey_id)
    body = json_body()
    if "isActive" in body:
        if not isinstance(body["isActive"], bool):
            raise bad_request("isActive must be true or false.", "GP_0")
        name = "activateSurveys" if body["isActive"] else "deactivateSurveys"
        if not surveys.has_permission(store, user, row, "surveyManagement", name):
            raise forbidden()
        surveys.set_active(store, survey_id, body["isActive"])
    if "name" in body:
        if not surveys.has_permission(store, user, row, "surveyManagement", "editSurveys"):
            raise forbidden()
        surveys.rename(store, survey_id, str(body["name"]))
    return meta_only()


@bp.post("/API/v3/surveys/<survey_id>/permissions/collaborations")
def share_survey(survey_id: str) -> Response:
    user = api_user()
    store = current_sandbox().store
    row = visible_survey(user, survey_id)
    if row["owner_id"] != user.id:
        raise forbidden("Only the survey owner can share this survey.", "GS_5")
    body = json_body()
    # Clients send the recipient as userId or recipientId.
    recipient_id = body.get("recipientId") or body.get("userId")
    recipient = accounts.get_user(store, str(recipient_id)) if recipient_id else None
    if recipient is None or recipient.brand_id != user.brand_id:
        raise bad_request("Invalid recipientId.", "GP_0")
    permissions = body.get("permissions")
    if isinstance(permissions, dict) and isinstance(permissions.get("SurveyPermissions"), dict):
        permissions = permissions["SurveyPermissions"]
    if not isinstance(permissions, dict):
        raise bad_request("Missing permissions.", "GP_0")
    surveys.share(store, survey_id, recipient.id, permissions)
    return success({})


# --- survey definitions ---------------------------------------------------------------


def _definition(survey_id: str) -> dict[str, Any]:
    user = api_user()
    row = visible_survey(user, survey_id, forbidden_code="QMST_2.1")
    return surveys.stored_definition(row, current_sandbox().public_url)


@bp.get("/API/v3/survey-definitions/<survey_id>")
def get_definition(survey_id: str) -> Response:
    definition = _definition(survey_id)
    if request.args.get("format", "").lower() == "qsf":
        return success(d.to_qsf(definition))
    return success(definition)


@bp.get("/API/v3/survey-definitions/<survey_id>/questions")
def list_questions(survey_id: str) -> Response:
    definition = _definition(survey_id)
    return success({"elements": list(d.questions(definition).values())})


@bp.get("/API/v3/survey-definitions/<survey_id>/questions/<question_id>")
def get_question(survey_id: str, question_id: str) -> Response:
    definition = _definition(survey_id)
    question = d.questions(definition).get(question_id)
    if question is None:
        raise not_found("Question not found.", "QMST_4")
    return success(question)


# --- responses ------------------------------------------------------------------------


def _response_survey(survey_id: str, group: str, name: str) -> Any:
    user = api_user()
    row = visible_survey(user, survey_id)
    if not surveys.has_permission(current_sandbox().store, user, row, group, name):
        raise forbidden("You do not have permission to access responses of this survey.", "RS_3")
    return row


NOT_YET = "The Survey Response is not yet available. Please try again later."


@bp.get("/API/v3/surveys/<survey_id>/responses/<response_id>")
def get_response(survey_id: str, response_id: str) -> Response:
    row = _response_survey(survey_id, "result", "viewSurveyResults")
    sandbox = current_sandbox()
    body = surveys.get_response(sandbox.store, survey_id, response_id)
    if body is None:
        raise not_found("Response not found.", "RS_2")
    if not surveys.is_available(sandbox.store, survey_id, response_id):
        # Just recorded (--response-delay-seconds): Qualtrics' spec documents this 202.
        return accepted({"message": NOT_YET})
    if sandbox.textiq:
        survey = compile_survey(surveys.stored_definition(row, sandbox.public_url))
        body["values"].update(textiq_values(survey, body))
    return success(body)


@bp.get("/API/v3/surveys/<survey_id>/response-schema")
def response_schema(survey_id: str) -> Response:
    row = _response_survey(survey_id, "result", "viewSurveyResults")
    sandbox = current_sandbox()
    survey = compile_survey(surveys.stored_definition(row, sandbox.public_url))
    return success(schema.response_schema(survey, row["id"], row["name"], sandbox.textiq))


@bp.post("/API/v3/surveys/<survey_id>/responses")
def create_response(survey_id: str) -> Response:
    row = _response_survey(survey_id, "response", "editSurveyResponses")
    sandbox = current_sandbox()
    body = json_body()
    values = body.get("values")
    if not isinstance(values, dict):
        raise bad_request("Missing values.", "RS_1")
    finished = values.pop("finished", 1) in (1, True, "1", "true")
    try:
        response_id = surveys.record_response(
            sandbox.store,
            row,
            Submission(values=values, finished=bool(finished), response_type="api", rules=False),
            sandbox.public_url,
            available_in=sandbox.response_delay(),
        )
    except InvalidAnswerError as exc:
        raise bad_request(str(exc), "RS_1") from exc
    sandbox.worker.wake()
    return success({"responseId": response_id})


@bp.put("/API/v3/responses/<response_id>")
def update_response(response_id: str) -> Response:
    """Update Response: `{"surveyId", "embeddedData", "resetRecordedDate"?}` (REFERENCE §13)."""
    body = json_body()
    unknown = sorted(set(body) - {"surveyId", "embeddedData", "resetRecordedDate"})
    if unknown:
        raise bad_request(f"Unknown fields are set: {', '.join(unknown)}", "RS_1")
    survey_id, embedded = body.get("surveyId"), body.get("embeddedData")
    if not isinstance(survey_id, str) or not survey_id:
        raise bad_request("surveyId is required.", "RS_1")
    if not isinstance(embedded, dict):
        raise bad_request("embeddedData must be an object of field names to values.", "RS_1")
    reset = strict_bool(body, "resetRecordedDate", True, "RS_1")
    _response_survey(survey_id, "response", "editSurveyResponses")
    try:
        editing.edit(
            current_sandbox(),
            response_id,
            {},
            embedded,
            survey_id=survey_id,
            reset_recorded_date=reset,
            keep_undeclared=True,
        )
    except editing.EditError as exc:
        if exc.status == 404:
            raise not_found("Response not found.", "RS_2") from exc
        raise bad_request(str(exc), "RS_1") from exc
    return meta_only()


@bp.delete("/API/v3/surveys/<survey_id>/responses/<response_id>")
def delete_response(survey_id: str, response_id: str) -> Response:
    _response_survey(survey_id, "response", "editSurveyResponses")
    if not surveys.delete_response(current_sandbox().store, survey_id, response_id):
        raise not_found("Response not found.", "RS_2")
    return meta_only()
