from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.security import HttpBearer

from muster.accounts.models import ApiToken, User
from muster.accounts.roles import Capability, can
from muster.ratelimits import over


class TooManyRequests(Throttled):
    """429 with our message; the API's error handler turns `wait` into Retry-After."""

    def __init__(self, wait: int, message: str) -> None:
        super().__init__(wait)
        self.message = message


class BearerToken(HttpBearer):
    openapi_description = "An API token from Settings → API tokens, sent as `Authorization: Bearer <token>`."

    def __call__(self, request: HttpRequest) -> Any:
        user = super().__call__(request)
        if user is None:
            # No token, another scheme or a bad token: one budget per address, so tokens cannot
            # be guessed at speed. Shared by every process through the database cache.
            limit = settings.MUSTER_API_CALLS_PER_MINUTE
            seconds = over(request, "api-anonymous", f"{limit}/m")
            if seconds:
                message = f"Too many requests without a valid token: at most {limit} a minute per address."
                raise TooManyRequests(seconds, message)
        return user

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = ApiToken.authenticate(token)
        if user is None or not can(user, Capability.OWN_API_TOKENS):
            return None
        request.user = user
        # One budget per user, shared by every process through the database cache.
        limit = settings.MUSTER_API_CALLS_PER_MINUTE
        seconds = over(request, "api", f"{limit}/m", key=lambda g, r: str(user.code))
        if seconds:
            raise TooManyRequests(seconds, f"Too many requests: at most {limit} a minute per user.")
        return user
