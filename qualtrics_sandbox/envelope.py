"""Qualtrics' response envelopes: `{"result", "meta"}` and the current error form."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, current_app, request

from .ids import new_request_id

STATUS_TEXT = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    # The wording a public client checks for (QualtricsAPI compares meta.httpStatus).
    503: "Temporary Internal Server Error",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def not_found(message: str, code: str) -> ApiError:
    return ApiError(404, message, code)


def bad_request(message: str, code: str = "RCE_1") -> ApiError:
    return ApiError(400, message, code)


def forbidden(message: str = "The operation is forbidden.", code: str = "QMST_2.1") -> ApiError:
    return ApiError(403, message, code)


def _meta(status: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "httpStatus": f"{status} - {STATUS_TEXT.get(status, 'Error')}",
        "requestId": new_request_id(),
    }
    home_host = current_app.config["SANDBOX_HOME_HOST"]
    if request.host != home_host:
        # Qualtrics serves a request sent to another datacenter's host but says so.
        meta["notice"] = f"Request proxied. For faster response times, use this host instead: {home_host}"
    return meta


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def success(result: Any) -> Response:
    return json_response({"result": result, "meta": _meta(200)})


def accepted(result: Any) -> Response:
    """202: Qualtrics' "not yet available" answer for a single response (REFERENCE §13)."""
    return json_response({"result": result, "meta": _meta(202)}, status=202)


def meta_only() -> Response:
    """DELETE (and a few updates) answer with `meta` alone."""
    return json_response({"meta": _meta(200)})


def error(err: ApiError) -> Response:
    meta = _meta(err.status)
    meta["error"] = {"errorMessage": err.message, "errorCode": err.code}
    # Keep requestId last-but-one like the recordings: httpStatus, error, requestId.
    ordered = {"httpStatus": meta.pop("httpStatus"), "error": meta.pop("error")}
    ordered.update(meta)
    return json_response({"meta": ordered}, status=err.status)


def strict_bool(body: dict[str, Any], key: str, default: bool, code: str = "RCE_1") -> bool:
    """Booleans are JSON true/false only; "false" (a string) is refused, never read as true."""
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be a JSON boolean (true or false), not {orjson.dumps(value).decode()}.", code)
    return value


def json_body() -> dict[str, Any]:
    if not request.data:
        return {}
    try:
        body = orjson.loads(request.data)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"Invalid JSON body: {exc}", "RCE_2") from exc
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "RCE_2")
    return body
