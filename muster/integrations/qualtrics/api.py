"""REST API for the Qualtrics connection (mounted at /api/v1/integrations/qualtrics)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict, Field, model_validator

from muster.accounts.roles import Capability
from muster.api.common import BODY_ERRORS, ERRORS, require
from muster.api.schemas import Error, Input
from muster.crypto import Secret
from muster.integrations.qualtrics import client, connect
from muster.integrations.qualtrics.models import QualtricsConnection, current_connection, last_disconnected
from muster.integrations.qualtrics.scrub import scrub, shown

router = Router(tags=["qualtrics"])


class ConnectIn(Input):
    # One of the two is required; the schema says so too, so clients generated from it know.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["base_url"]}, {"required": ["datacenter"]}]},
    )

    base_url: str | None = Field(
        None, min_length=1, max_length=200, description="Account URL, e.g. https://brand.co1.qualtrics.com"
    )
    datacenter: str | None = Field(None, min_length=1, max_length=20, description="Datacenter id, e.g. iad1")
    brand_admin_token: str = Field(
        min_length=1, max_length=200, json_schema_extra={"writeOnly": True, "format": "password"}
    )
    user_type: str = Field(pattern=r"^UT_[A-Za-z0-9_]+$", max_length=100)
    service_email: str = Field("", max_length=200)

    @model_validator(mode="after")
    def one_location(self) -> ConnectIn:
        if not (self.base_url or self.datacenter):
            raise ValueError("Give base_url or datacenter.")
        return self

    def __repr__(self) -> str:
        return "ConnectIn(brand_admin_token='********')"


class AdminTokenIn(Input):
    brand_admin_token: str = Field(min_length=1, max_length=200, json_schema_extra={"writeOnly": True})

    def __repr__(self) -> str:
        return "AdminTokenIn(brand_admin_token='********')"


class DisconnectIn(Input):
    brand_admin_token: str | None = Field(None, max_length=200, json_schema_extra={"writeOnly": True})

    def __repr__(self) -> str:
        return "DisconnectIn(brand_admin_token='********')"


class ConnectionOut(Schema):
    # `connected` is false both before any connection and after a disconnect; then `status` is
    # "disconnected" and the fields describe the connection as it was.
    connected: bool
    code: str | None = None
    status: str | None = None
    status_reason: str = ""
    brand_id: str | None = None
    datacenter: str | None = None
    base_url: str | None = None
    service_user_id: str | None = None
    service_username: str | None = None
    subscription_id: str | None = None
    connected_by: str | None = None
    connected_at: datetime | None = None
    last_webhook_at: datetime | None = None
    last_checked_at: datetime | None = None
    disconnected_at: datetime | None = None
    disconnected_by: str | None = None
    warnings: list[str] = []


class DoneOut(ConnectionOut):
    """The connection after a multi-step operation, with what it did in Qualtrics, what it did
    not (e.g. a refused event subscription) and what is left there to remove by hand."""

    done: list[str] = []
    not_done: list[str] = []
    remove_by_hand: list[str] = []


class DisconnectOut(Schema):
    # What the disconnect did in Qualtrics, what it could not do, and what is left there.
    done: list[str]
    not_done: list[str]
    remove_by_hand: list[str]
    connection: ConnectionOut


class Failed(Schema):
    """A refused or failed operation. After a multi-step one, what it had done in Qualtrics
    until it stopped, what it did not, and what is left there to remove by hand."""

    message: str
    done: list[str] = []
    not_done: list[str] = []
    remove_by_hand: list[str] = []


class SurveyOut(Schema):
    id: str
    name: str
    last_modified: str | None


class TestOut(Schema):
    ok: bool
    user_id: str
    user_name: str
    brand_id: str


def _out(connection: QualtricsConnection | None) -> ConnectionOut:
    if connection is None:
        return ConnectionOut(connected=False)
    connection = shown(connection)
    return ConnectionOut(
        connected=connection.is_live,
        code=str(connection.code),
        status=connection.status,
        status_reason=connection.status_reason,
        brand_id=connection.brand_id,
        datacenter=connection.datacenter,
        base_url=connection.base_url,
        service_user_id=connection.service_user_id,
        service_username=connection.service_username,
        subscription_id=connection.subscription_id or None,
        connected_by=connection.connected_by.email if connection.connected_by else None,
        connected_at=connection.connected_at,
        last_webhook_at=connection.last_webhook_at,
        last_checked_at=connection.last_checked_at,
        disconnected_at=connection.disconnected_at,
        disconnected_by=connection.disconnected_by.email if connection.disconnected_by else None,
        warnings=list(connection.warnings),
    )


def _connection() -> QualtricsConnection:
    connection = current_connection()
    if connection is None:
        raise HttpError(409, "Muster is not connected to Qualtrics.")
    return connection


def _done(connection: QualtricsConnection, report: connect.Report) -> DoneOut:
    out = _out(connection).model_dump()
    return DoneOut(**out, done=report.done, not_done=report.not_done, remove_by_hand=report.by_hand)


def _error(e: client.QualtricsError) -> HttpError:
    return HttpError(400 if isinstance(e, client.HostNotAllowed) else 502, scrub(str(e)))


def _fail(e: Exception, *secrets: Secret) -> tuple[int, Failed]:
    # A host outside the allowlist is the caller's mistake; a connect already running is a
    # conflict; anything else went wrong at Qualtrics.
    cause = e.error if isinstance(e, connect.ConnectError) else e
    status = 502
    if isinstance(cause, client.HostNotAllowed):
        status = 400
    elif isinstance(e, connect.ConnectInProgress):
        status = 409
    failed = Failed(message=scrub(str(e), *secrets))
    if isinstance(e, connect.ConnectError):
        failed.done, failed.not_done, failed.remove_by_hand = e.report.done, e.report.not_done, e.report.by_hand
    return status, failed


WITH_CONFLICT: dict[int, Any] = {**BODY_ERRORS, 409: Error, 502: Error}
# Multi-step operations answer a failure with what they had done in Qualtrics.
STEPS: dict[int, Any] = {**BODY_ERRORS, 400: Failed, 409: Failed, 502: Failed}


@router.get("", response={200: ConnectionOut, **ERRORS}, summary="Connection status")
def status(request: HttpRequest) -> ConnectionOut:
    require(request, Capability.MANAGE_INTEGRATIONS)
    return _out(current_connection() or last_disconnected())


@router.post("/connect", response={201: DoneOut, **STEPS}, summary="Connect to a Qualtrics brand")
def connect_route(request: HttpRequest, body: ConnectIn) -> tuple[int, DoneOut | Failed]:
    user = require(request, Capability.MANAGE_INTEGRATIONS)
    if current_connection() is not None:
        return 409, Failed(message="Muster is connected already; disconnect first.")
    token = Secret(body.brand_admin_token)
    try:
        outcome = connect.connect(
            base_url=body.base_url or body.datacenter or "",
            brand_admin_token=token,
            user_type=body.user_type,
            by=user,
            service_email=body.service_email,
        )
    except (connect.ConnectError, client.QualtricsError) as e:
        return _fail(e, token)
    return 201, _done(outcome.connection, outcome.report)


@router.post("/test", response={200: TestOut, **WITH_CONFLICT}, summary="Test the stored token")
def test_route(request: HttpRequest) -> TestOut:
    require(request, Capability.MANAGE_INTEGRATIONS)
    try:
        me = connect.test_connection(_connection())
    except client.QualtricsError as e:
        raise _error(e) from None
    return TestOut(ok=True, user_id=me.user_id, user_name=me.user_name, brand_id=me.brand_id)


@router.post("/resubscribe", response={200: DoneOut, **STEPS}, summary="Replace the event subscription")
def resubscribe_route(request: HttpRequest, body: AdminTokenIn) -> tuple[int, DoneOut | Failed]:
    require(request, Capability.MANAGE_INTEGRATIONS)
    connection = _connection()
    token = Secret(body.brand_admin_token)
    try:
        report = connect.resubscribe(connection, token)
    except (connect.ConnectError, client.QualtricsError) as e:
        return _fail(e, token)
    return 200, _done(connection, report)


@router.post("/repair", response={200: DoneOut, **STEPS}, summary="Give the service user a new token")
def repair_route(request: HttpRequest, body: AdminTokenIn) -> tuple[int, DoneOut | Failed]:
    require(request, Capability.MANAGE_INTEGRATIONS)
    connection = _connection()
    token = Secret(body.brand_admin_token)
    try:
        report = connect.repair(connection, token)
    except (connect.ConnectError, client.QualtricsError) as e:
        return _fail(e, token)
    return 200, _done(connection, report)


@router.delete("", response={200: DisconnectOut, **STEPS}, summary="Disconnect")
def disconnect_route(request: HttpRequest, body: DisconnectIn | None = None) -> tuple[int, DisconnectOut | Failed]:
    user = require(request, Capability.MANAGE_INTEGRATIONS)
    connection = _connection()
    token = Secret(body.brand_admin_token) if body and body.brand_admin_token else None
    try:
        report = connect.disconnect(connection, token, by=user)
    except (connect.ConnectError, client.QualtricsError) as e:
        # Only the first change in Qualtrics failing stops a disconnect: nothing changed anywhere.
        return _fail(e, *([token] if token else []))
    out = DisconnectOut(
        done=report.done, not_done=report.not_done, remove_by_hand=report.by_hand, connection=_out(connection)
    )
    return 200, out


@router.get("/surveys", response={200: list[SurveyOut], **WITH_CONFLICT}, summary="Active surveys Muster can use")
def surveys_route(request: HttpRequest) -> list[SurveyOut]:
    require(request, Capability.USE_INTEGRATIONS)
    connection = _connection()
    if connection.is_broken:
        raise HttpError(409, f"The Qualtrics connection is broken: {shown(connection).status_reason}")
    try:
        with connect.connection_account(connection) as account:
            surveys = client.list_surveys(account)
    except client.QualtricsError as e:
        raise _error(e) from None
    return [SurveyOut(id=s.id, name=s.name, last_modified=s.last_modified) for s in surveys if s.is_active]
