"""The Flask application: v3 API, control API, and the envelopes around errors."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import control, jfe, v3_exports, v3_subscriptions, v3_surveys, v3_users
from .context import Sandbox, current_sandbox
from .envelope import ApiError, error, json_response

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class StripTrailingSlash:
    """Recorded calls end in a slash (`/survey-definitions/SV_x/`); serve both spellings."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/API/") and len(path) > 1 and path.endswith("/"):
            environ["PATH_INFO"] = path.rstrip("/")
        return self.app(environ, start_response)


class DroppedConnection(Exception):
    """The fault hook closed the client's socket; nothing can be answered."""


def _inject_fault() -> Response | None:
    """Apply `PUT /_sandbox/faults` endpoint rules to every call outside the control API."""
    if request.path.startswith("/_sandbox"):
        return None
    outcome = current_sandbox().faults.for_request(request.method, request.path)
    if outcome.latency:
        time.sleep(outcome.latency)
    if outcome.drop:
        connection = request.environ.get("werkzeug.socket")
        if isinstance(connection, socket.socket):
            connection.shutdown(socket.SHUT_RDWR)
        raise DroppedConnection()
    if outcome.status is None:
        return None
    messages = {
        429: ("Too many requests. Please retry later.", "TMR_1"),
        500: ("An internal error occurred.", "ISE_1"),
        503: ("The service is temporarily unavailable.", "SU_1"),
    }
    message, code = messages[outcome.status]
    if request.path.startswith("/API/"):
        answer = error(ApiError(outcome.status, message, code))
    else:
        answer = Response(message, status=outcome.status, mimetype="text/plain")
    if outcome.status == 429:
        answer.headers["Retry-After"] = str(outcome.retry_after)
    return answer


def create_app(sandbox: Sandbox) -> Flask:
    app = Flask(__name__)
    app.extensions["qualtrics_sandbox"] = sandbox
    app.config["SANDBOX_HOME_HOST"] = sandbox.home_host
    app.register_blueprint(v3_users.bp)
    app.register_blueprint(v3_surveys.bp)
    app.register_blueprint(v3_subscriptions.bp)
    app.register_blueprint(v3_exports.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(jfe.bp)

    @app.before_request
    def _faults() -> Response | None:
        return _inject_fault()

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Response:
        return error(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if request.path.startswith("/API/"):
            message = "Resource not found." if status == 404 else (exc.description or exc.name)
            return error(ApiError(status, message, "GP_0" if status != 404 else "RCE_3"))
        return json_response({"error": exc.description or exc.name}, status=status)

    @app.errorhandler(DroppedConnection)
    def _dropped(exc: DroppedConnection) -> Response:
        return Response(b"", status=500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        if request.path.startswith("/API/"):
            return error(ApiError(500, "An internal error occurred.", "ISE_1"))
        return json_response({"error": f"{type(exc).__name__}: {exc}"}, status=500)

    app.wsgi_app = StripTrailingSlash(app.wsgi_app)  # type: ignore[method-assign]
    return app
