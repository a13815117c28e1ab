"""Responses changed after they were recorded: an edit in Data & Analysis (control API) and
`PUT /API/v3/responses/{responseId}` (embedded data, REFERENCE §13). Both move the response's
last-modified time, so `sortByLastModifiedDate` exports and continuation pick them up again."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson

from . import surveys
from .clock import iso_millis, parse_iso
from .logic import InferringChooser
from .responses import RECIPIENT_KEYS, RESPONSE_TYPES, InvalidAnswerError, Submission, build_response, compile_survey

if TYPE_CHECKING:
    from .context import Sandbox

JSON = dict[str, Any]
# Metadata kept from the original response whatever the edit.
KEPT = ("startDate", "endDate", "duration", "progress", "recordedDate")


class EditError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _answers(survey_questions: list[Any], values: JSON) -> JSON:
    """The stored values back in the `respond` input form (derived keys left out)."""
    found: JSON = {}
    for q in survey_questions:
        for key in q.fields:
            if key in values and not key.endswith("_NPS_GROUP"):
                found[key] = values[key]
    return found


def _response_type(values: JSON) -> str:
    pair = (values.get("distributionChannel"), values.get("status"))
    return next((name for name, found in RESPONSE_TYPES.items() if found == pair), "anonymous")


def edit(
    sandbox: Sandbox,
    response_id: str,
    values: JSON,
    embedded: JSON,
    *,
    survey_id: str | None = None,
    reset_recorded_date: bool | None = None,
    keep_undeclared: bool = False,
) -> None:
    """Replace the given keys (None clears one) and store the response again.

    `reset_recorded_date`: None keeps recordedDate (a Data & Analysis edit); True sets it to now;
    False adds one millisecond, as the spec says of `resetRecordedDate: false`.
    `keep_undeclared`: embedded fields the flow does not declare are kept out of sight (PUT, as
    the spec describes) instead of refused.
    """
    store = sandbox.store
    row = surveys.response_row(store, response_id)
    if row is None or (survey_id is not None and row["survey_id"] != survey_id):
        raise EditError(404, f"Response {response_id} not found.")
    survey_row = surveys.survey_row(store, row["survey_id"])
    assert survey_row is not None
    survey = compile_survey(surveys.stored_definition(survey_row, sandbox.public_url))
    stored: JSON = orjson.loads(row["body"])
    extras: JSON = orjson.loads(row["extras"]) if row["extras"] else {}
    old = stored["values"]

    answers = _answers(survey.questions, old)
    for key, value in values.items():
        if value is None:
            answers.pop(key, None)
        else:
            answers[key] = value
    current = {name: old[name] for name in survey.declared if name in old}
    hidden = dict(extras.get("hiddenEmbeddedData") or {})
    for key, value in embedded.items():
        if isinstance(value, dict | list):
            raise EditError(400, f"embeddedData.{key} must be a string, number or boolean.")
        if key not in survey.declared:
            if not keep_undeclared:
                raise EditError(400, f"{key} is not an embedded data field declared in the survey flow.")
            hidden[key] = None if value is None else str(value)
        elif value is None:
            current.pop(key, None)
        else:
            current[key] = str(value)
    recipient = {k: old[k] for k in RECIPIENT_KEYS if old.get(k)}
    submission = Submission(
        values=answers,
        embedded_data=current,
        finished=bool(old.get("finished")),
        recorded_at=parse_iso(old["recordedDate"]),
        ip_address=str(old.get("ipAddress", "127.0.0.1")),
        response_type=_response_type(old),
        user_language=str(old.get("userLanguage", "EN")),
        recipient=recipient,
        # An editor may clear a forced answer; the other rules still hold.
        rules=False,
    )
    decided = {k: v for k, v in extras.items() if k.endswith("_DO")}
    try:
        body, new_extras = build_response(
            survey, response_id, submission, store.now(), InferringChooser(decided=decided)
        )
    except InvalidAnswerError as exc:
        raise EditError(400, str(exc)) from exc
    for key in KEPT:
        if key in old:
            body["values"][key] = old[key]
    if reset_recorded_date is True:
        body["values"]["recordedDate"] = iso_millis(store.now())
    elif reset_recorded_date is False:
        body["values"]["recordedDate"] = iso_millis(parse_iso(old["recordedDate"]) + timedelta(milliseconds=1))
    if hidden:
        new_extras["hiddenEmbeddedData"] = hidden
    surveys.save_edit(store, response_id, body, new_extras)
