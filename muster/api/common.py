"""What every app's API router shares: the error responses it declares and the access check.

The routers import this module, and `muster.api.api` imports the routers to mount them, so the
imports run one way.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from muster.accounts.models import User
from muster.accounts.roles import Capability
from muster.accounts.roles import require as require_capability
from muster.api.schemas import Error

# Every operation may answer these; a body or query that does not parse is 400 or 422.
ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 422: Error, 429: Error}
BODY_ERRORS: dict[int, Any] = {**ERRORS, 404: Error}


def current_user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


def require(request: HttpRequest, capability: Capability) -> User:
    user = current_user(request)
    require_capability(user, capability)
    return user
