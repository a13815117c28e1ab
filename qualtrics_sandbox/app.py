"""The Flask application: v3 API, control API, and the envelopes around errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import control, v3_subscriptions, v3_surveys, v3_users
from .context import Sandbox
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


def create_app(sandbox: Sandbox) -> Flask:
    app = Flask(__name__)
    app.extensions["qualtrics_sandbox"] = sandbox
    app.config["SANDBOX_HOME_HOST"] = sandbox.home_host
    app.register_blueprint(v3_users.bp)
    app.register_blueprint(v3_surveys.bp)
    app.register_blueprint(v3_subscriptions.bp)
    app.register_blueprint(control.bp)

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

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        if request.path.startswith("/API/"):
            return error(ApiError(500, "An internal error occurred.", "ISE_1"))
        return json_response({"error": f"{type(exc).__name__}: {exc}"}, status=500)

    app.wsgi_app = StripTrailingSlash(app.wsgi_app)  # type: ignore[method-assign]
    return app
