"""Who is calling: API tokens (X-API-TOKEN or Bearer) and brand-admin checks."""

from __future__ import annotations

import sqlite3

from flask import request

from . import surveys
from .accounts import User, user_by_token
from .context import current_sandbox
from .envelope import ApiError, forbidden, not_found


def _token() -> str | None:
    token = request.headers.get("X-API-TOKEN")
    if token:
        return token.strip()
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def api_user() -> User:
    """The calling user; 401 for an unknown, revoked or disabled token, 403 without API access."""
    token = _token()
    if not token:
        raise ApiError(401, "Missing API token.", "AUTH_6.0")
    user = user_by_token(current_sandbox().store, token)
    if user is None or user.status != "active":
        raise ApiError(401, "Invalid API token.", "AUTH_6.0")
    if not user.api_access:
        raise ApiError(403, "This user is not permitted to use the API.", "AUTH_7.0")
    return user


def brand_admin_user() -> User:
    """Calls Qualtrics documents as "Administrator Request"."""
    user = api_user()
    if not user.is_brand_admin:
        raise forbidden("You must be a brand administrator to make this request.", "AUTH_3.1")
    return user


def visible_survey(user: User, survey_id: str, forbidden_code: str = "GS_5") -> sqlite3.Row:
    """404 for an unknown survey, 403 for one that is neither owned nor shared."""
    store = current_sandbox().store
    row = surveys.survey_row(store, survey_id)
    if row is None:
        raise not_found("Survey not found.", "GSI_2")
    if not surveys.can_see(store, user, row):
        raise forbidden("The operation is forbidden.", forbidden_code)
    return row
