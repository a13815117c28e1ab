from __future__ import annotations

from django.http import HttpRequest

from muster.accounts.roles import Capability, can


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {"can": {c.name.lower(): can(user, c) for c in Capability}}
