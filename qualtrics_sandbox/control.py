"""The control API under `/_sandbox/`: seeding, simulated respondents, the webhook log, faults.

It answers loopback clients only. Errors are `{"error": "..."}` with an HTTP status.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Blueprint, Response, request

from . import accounts, editing, surveys
from .clock import iso_millis, parse_iso
from .context import current_sandbox
from .envelope import json_response
from .faults import FaultConfigError
from .responses import RECIPIENT_KEYS, RESPONSE_TYPES, InvalidAnswerError, Submission
from .simulate import simulate
from .webhooks import delivery_log

bp = Blueprint("control", __name__)


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@bp.errorhandler(ControlError)
def _control_error(err: ControlError) -> Response:
    return json_response({"error": err.message}, status=err.status)


@bp.before_request
def _loopback_only() -> Response | None:
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return json_response({"error": "The sandbox control API answers loopback clients only."}, 403)
    return None


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and request.data:
        raise ControlError(400, "The body must be JSON.")
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ControlError(400, "The body must be a JSON object.")
    return body


def brand_json(brand_id: str) -> dict[str, Any]:
    store = current_sandbox().store
    brand = accounts.brand_row(store, brand_id)
    admin = accounts.brand_admin(store, brand_id)
    if brand is None or admin is None:
        raise ControlError(404, f"Unknown brand {brand_id}.")
    return {
        "brandId": brand_id,
        "datacenter": brand["datacenter"],
        "adminUserId": admin.id,
        "adminToken": admin.api_token,
        "userTypes": accounts.user_types(store, brand_id),
    }


@bp.get("/_sandbox/")
def status() -> Response:
    sandbox = current_sandbox()
    return json_response({"ok": True, "publicUrl": sandbox.public_url, "homeHost": sandbox.home_host})


@bp.post("/_sandbox/brands")
def create_brand() -> Response:
    sandbox = current_sandbox()
    body = _body()
    brand_id = body.get("brandId")
    if brand_id is not None and (not isinstance(brand_id, str) or not brand_id.isalnum()):
        raise ControlError(400, "brandId must be letters and digits.")
    if brand_id and accounts.brand_exists(sandbox.store, brand_id):
        raise ControlError(409, f"Brand {brand_id} already exists.")
    datacenter = str(body.get("datacenter") or sandbox.datacenter)
    admin = accounts.create_brand(sandbox.store, brand_id, datacenter)
    return json_response(brand_json(admin.brand_id))


@bp.get("/_sandbox/brands/<brand_id>")
def get_brand(brand_id: str) -> Response:
    return json_response(brand_json(brand_id))


@bp.post("/_sandbox/surveys")
def create_survey() -> Response:
    store = current_sandbox().store
    body = _body()
    owner = accounts.get_user(store, str(body.get("ownerId")))
    if owner is None:
        raise ControlError(400, "ownerId must be an existing user id.")
    definition = body.get("definition")
    if not isinstance(definition, dict):
        raise ControlError(400, "definition must be a survey-definitions result object or a QSF document.")
    survey_id = surveys.create_survey(store, owner, definition, _flag(body, "active", True))
    return json_response({"surveyId": survey_id})


def _survey(survey_id: str) -> Any:
    row = surveys.survey_row(current_sandbox().store, survey_id)
    if row is None:
        raise ControlError(404, f"Unknown survey {survey_id}.")
    return row


@bp.post("/_sandbox/surveys/<survey_id>/share")
def share(survey_id: str) -> Response:
    store = current_sandbox().store
    row = _survey(survey_id)
    body = _body()
    user = accounts.get_user(store, str(body.get("userId")))
    if user is None or user.brand_id != row["brand_id"]:
        raise ControlError(400, "userId must be a user of the survey's brand.")
    permissions = body.get("permissions", surveys.ALL_PERMISSIONS)
    if not isinstance(permissions, dict):
        raise ControlError(400, "permissions must be an object.")
    surveys.share(store, survey_id, user.id, permissions)
    return json_response({"surveyId": survey_id, "userId": user.id, "permissions": permissions})


@bp.delete("/_sandbox/surveys/<survey_id>")
def delete_survey(survey_id: str) -> Response:
    """The survey deleted in Qualtrics, with its responses: every API call about it answers 404 after."""
    store = current_sandbox().store
    _survey(survey_id)
    with store.transaction():
        for table in ("collaborations", "auto_shares", "responses", "sessions", "continuation_tokens"):
            store.run(f"DELETE FROM {table} WHERE survey_id = ?", (survey_id,))  # noqa: S608 - fixed names
        store.run("DELETE FROM surveys WHERE id = ?", (survey_id,))
    return json_response({"surveyId": survey_id})


RESPOND_KEYS = {
    "values",
    "embeddedData",
    "finished",
    "recordedDate",
    "startDate",
    "duration",
    "progress",
    "ipAddress",
    "responseType",
    "recipient",
    "userLanguage",
}


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise ControlError(400, f"{key} must be true or false (a JSON boolean).")
    return value


def _response_type(body: dict[str, Any]) -> str:
    kind = body.get("responseType", "anonymous")
    if kind not in RESPONSE_TYPES or kind == "api":
        names = ", ".join(k for k in RESPONSE_TYPES if k != "api")
        raise ControlError(400, f"responseType must be one of {names}.")
    return str(kind)


@bp.post("/_sandbox/surveys/<survey_id>/respond")
def respond(survey_id: str) -> Response:
    sandbox = current_sandbox()
    row = _survey(survey_id)
    body = _body()
    if "count" in body:
        return _respond_many(row, body)
    unexpected = sorted(set(body) - RESPOND_KEYS)
    if unexpected:
        raise ControlError(400, f"unknown fields: {unexpected} (allowed: {sorted(RESPOND_KEYS)})")
    values = body.get("values", {})
    embedded = body.get("embeddedData", {})
    recipient = body.get("recipient", {})
    if not isinstance(values, dict) or not isinstance(embedded, dict) or not isinstance(recipient, dict):
        raise ControlError(400, "values, embeddedData and recipient must be objects.")
    wrong = sorted(set(recipient) - set(RECIPIENT_KEYS))
    if wrong:
        raise ControlError(400, f"recipient takes {list(RECIPIENT_KEYS)}, not {wrong}.")
    recorded = body.get("recordedDate")
    try:
        submission = Submission(
            values=values,
            embedded_data=embedded,
            finished=_flag(body, "finished", True),
            recorded_at=parse_iso(recorded) if isinstance(recorded, str) else None,
            start_date=body.get("startDate"),
            duration=body.get("duration"),
            progress=body.get("progress"),
            ip_address=str(body.get("ipAddress", "127.0.0.1")),
            response_type=_response_type(body),
            user_language=str(body.get("userLanguage", "EN")),
            recipient=recipient,
        )
        response_id = surveys.record_response(
            sandbox.store, row, submission, sandbox.public_url, available_in=sandbox.response_delay()
        )
    except (InvalidAnswerError, ValueError) as exc:
        raise ControlError(400, str(exc)) from exc
    sandbox.worker.wake()
    return json_response({"responseIds": [response_id]})


MAX_COUNT = 1_000_000
BULK_KEYS = {"count", "embeddedData", "finished", "webhooks", "seed", "responseTypes"}


def _respond_many(row: Any, body: dict[str, Any]) -> Response:
    """`{"count": N}`: N random valid responses, inserted in batches."""
    sandbox = current_sandbox()
    count = body["count"]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ControlError(400, f"count must be a whole number from 1 to {MAX_COUNT}.")
    unexpected = sorted(set(body) - BULK_KEYS)
    if unexpected:
        raise ControlError(400, f"with count, only {sorted(BULK_KEYS - {'count'})} are allowed: {unexpected}")
    embedded = body.get("embeddedData", {})
    seed = body.get("seed")
    if not isinstance(embedded, dict) or (seed is not None and (isinstance(seed, bool) or not isinstance(seed, int))):
        raise ControlError(400, "embeddedData must be an object and seed an integer.")
    weights = body.get("responseTypes", {"anonymous": 1})
    if (
        not isinstance(weights, dict)
        or not weights
        or any(k not in RESPONSE_TYPES or k == "api" for k in weights)
        or any(isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in weights.values())
        or not sum(weights.values())
    ):
        names = ", ".join(k for k in RESPONSE_TYPES if k != "api")
        raise ControlError(400, f"responseTypes maps response types ({names}) to weights ≥ 0, not all 0.")
    stored, ids = simulate(
        sandbox.store,
        row,
        sandbox.public_url,
        count,
        embedded,
        finished=_flag(body, "finished", True),
        webhooks=_flag(body, "webhooks", False),
        seed=seed,
        response_types=[(str(k), float(w)) for k, w in weights.items()],
        available_in=sandbox.response_delay(),
    )
    sandbox.worker.wake()
    return json_response({"count": stored, "responseIds": ids})


@bp.patch("/_sandbox/responses/<response_id>")
def edit_response(response_id: str) -> Response:
    """An edit in Data & Analysis: the given keys are replaced (null clears one); last-modified moves."""
    sandbox = current_sandbox()
    body = _body()
    unexpected = sorted(set(body) - {"values", "embeddedData"})
    if unexpected:
        raise ControlError(400, f"only values and embeddedData can be edited, not {unexpected}.")
    values, embedded = body.get("values", {}), body.get("embeddedData", {})
    if not isinstance(values, dict) or not isinstance(embedded, dict):
        raise ControlError(400, "values and embeddedData must be objects.")
    try:
        editing.edit(sandbox, response_id, values, embedded)
    except editing.EditError as exc:
        raise ControlError(exc.status, str(exc)) from exc
    return json_response({"responseId": response_id})


@bp.get("/_sandbox/clock")
def get_clock() -> Response:
    store = current_sandbox().store
    return json_response({"now": iso_millis(store.now()), "offsetSeconds": store.clock_offset})


@bp.post("/_sandbox/clock")
def advance_clock() -> Response:
    """`{"advanceSeconds": N}` moves the sandbox clock forward (never back)."""
    store = current_sandbox().store
    body = _body()
    seconds = body.get("advanceSeconds")
    if (
        set(body) != {"advanceSeconds"}
        or isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or seconds < 0
    ):
        raise ControlError(400, 'the body must be {"advanceSeconds": N} with N ≥ 0.')
    store.advance_clock(float(seconds))
    return get_clock()


@bp.get("/_sandbox/faults")
def get_faults() -> Response:
    return json_response(current_sandbox().faults.snapshot())


@bp.put("/_sandbox/faults")
def set_faults() -> Response:
    try:
        return json_response(current_sandbox().faults.set(_body()))
    except FaultConfigError as exc:
        raise ControlError(400, str(exc)) from exc


@bp.delete("/_sandbox/faults")
def clear_faults() -> Response:
    return json_response(current_sandbox().faults.clear())


@bp.get("/_sandbox/webhooks")
def webhooks() -> Response:
    return json_response({"deliveries": delivery_log(current_sandbox().store)})


@bp.post("/_sandbox/webhooks/flush")
def flush_webhooks() -> Response:
    """Attempt every pending delivery now, ignoring back-off, then return the log."""
    sandbox = current_sandbox()
    sandbox.worker.deliver_due(force=True)
    return json_response({"deliveries": delivery_log(sandbox.store)})


@bp.delete("/_sandbox/webhooks")
def clear_webhooks() -> Response:
    store = current_sandbox().store
    with store.transaction():
        store.run("DELETE FROM delivery_attempts")
        store.run("DELETE FROM deliveries")
    return json_response({"deliveries": []})
