"""The control API under `/_sandbox/`: seeding, simulated respondents, the webhook log, faults.

It answers loopback clients only. Errors are `{"error": "..."}` with an HTTP status.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Blueprint, Response, request

from . import accounts, surveys
from .clock import parse_iso
from .context import current_sandbox
from .envelope import json_response
from .faults import FaultConfigError
from .responses import InvalidAnswerError, Submission
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
    survey_id = surveys.create_survey(store, owner, definition, bool(body.get("active", True)))
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


@bp.post("/_sandbox/surveys/<survey_id>/respond")
def respond(survey_id: str) -> Response:
    sandbox = current_sandbox()
    row = _survey(survey_id)
    body = _body()
    if "count" in body:
        return _respond_many(row, body)
    values = body.get("values", {})
    embedded = body.get("embeddedData", {})
    if not isinstance(values, dict) or not isinstance(embedded, dict):
        raise ControlError(400, "values and embeddedData must be objects.")
    recorded = body.get("recordedDate")
    try:
        submission = Submission(
            values=values,
            embedded_data=embedded,
            finished=bool(body.get("finished", True)),
            recorded_at=parse_iso(recorded) if isinstance(recorded, str) else None,
            start_date=body.get("startDate"),
            duration=body.get("duration"),
            progress=body.get("progress"),
            ip_address=str(body.get("ipAddress", "127.0.0.1")),
            distribution_channel=str(body.get("distributionChannel", "anonymous")),
            user_language=str(body.get("userLanguage", "EN")),
        )
        response_id = surveys.record_response(sandbox.store, row, submission, sandbox.public_url)
    except (InvalidAnswerError, ValueError) as exc:
        raise ControlError(400, str(exc)) from exc
    sandbox.worker.wake()
    return json_response({"responseIds": [response_id]})


MAX_COUNT = 1_000_000


def _respond_many(row: Any, body: dict[str, Any]) -> Response:
    """`{"count": N}`: N random valid responses, inserted in batches."""
    sandbox = current_sandbox()
    count = body["count"]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ControlError(400, f"count must be a whole number from 1 to {MAX_COUNT}.")
    unexpected = sorted(set(body) - {"count", "embeddedData", "finished", "webhooks", "seed"})
    if unexpected:
        raise ControlError(400, f"with count, only embeddedData, finished, webhooks and seed are allowed: {unexpected}")
    embedded = body.get("embeddedData", {})
    seed = body.get("seed")
    if not isinstance(embedded, dict) or (seed is not None and not isinstance(seed, int)):
        raise ControlError(400, "embeddedData must be an object and seed an integer.")
    stored, ids = simulate(
        sandbox.store,
        row,
        sandbox.public_url,
        count,
        embedded,
        finished=bool(body.get("finished", True)),
        webhooks=bool(body.get("webhooks", False)),
        seed=seed,
    )
    sandbox.worker.wake()
    return json_response({"count": stored, "responseIds": ids})


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
