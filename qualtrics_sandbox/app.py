"""The Flask application: v3 API, control API, and the envelopes around errors."""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import control, jfe, ui, v3_exports, v3_subscriptions, v3_surveys, v3_users
from .context import Sandbox, current_sandbox
from .envelope import ApiError, error, json_response

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class StripTrailingSlash:
    """Recorded calls end in a slash (`/survey-definitions/SV_x/`) and some clients join paths
    into `/API/v3//surveys/...`; serve every spelling without a redirect."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/API/"):
            path = re.sub("/{2,}", "/", path)
            environ["PATH_INFO"] = path.rstrip("/") if len(path) > 1 else path
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
    return _refusal(outcome.status, message, code, outcome.retry_after)


def _refusal(status: int, message: str, code: str, retry_after: int) -> Response:
    if request.path.startswith("/API/"):
        answer = error(ApiError(status, message, code))
    else:
        answer = Response(message, status=status, mimetype="text/plain")
    if status == 429:
        answer.headers["Retry-After"] = str(retry_after)
    return answer


def _rate_limit() -> Response | None:
    """`--calls-per-minute` / `--max-concurrent`, counted per API token (off by default)."""
    if not request.path.startswith("/API/"):
        return None
    sandbox = current_sandbox()
    per_minute, concurrent = sandbox.rate_limits()
    token = request.headers.get("X-API-TOKEN") or request.headers.get("Authorization") or ""
    if not token or not (per_minute or concurrent):
        return None
    wait = sandbox.limiter.acquire(token.strip(), per_minute, concurrent)
    if wait is not None:
        return _refusal(429, "Too many requests. Please retry later.", "TMR_1", wait)
    g.rate_limited_token = token.strip()
    return None


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
    app.register_blueprint(ui.bp)

    @app.before_request
    def _faults() -> Response | None:
        # The limit is counted first, as at a gateway; an injected latency then holds the call's slot.
        return _rate_limit() or _inject_fault()

    @app.teardown_request
    def _release(exc: BaseException | None) -> None:
        token = g.pop("rate_limited_token", None)
        if token is not None:
            current_sandbox().limiter.release(token)

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
