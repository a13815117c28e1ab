from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited
from ninja.errors import HttpError
from ninja.security import HttpBearer

from muster.accounts.models import ApiToken, User
from muster.accounts.roles import Capability, can


class BearerToken(HttpBearer):
    openapi_description = "An API token from Settings → API tokens, sent as `Authorization: Bearer <token>`."

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = ApiToken.authenticate(token)
        if user is None or not can(user, Capability.OWN_API_TOKENS):
            return None
        request.user = user
        # One budget per user, shared by every process through the database cache.
        limit = settings.MUSTER_API_CALLS_PER_MINUTE
        if is_ratelimited(request, group="api", key=lambda g, r: str(user.code), rate=f"{limit}/m", increment=True):
            raise HttpError(429, f"Too many requests: at most {limit} a minute per user.")
        return user
