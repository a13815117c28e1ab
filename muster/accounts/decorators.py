from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from muster.accounts.models import User
from muster.accounts.roles import Capability, require


def signed_in_user(request: HttpRequest) -> User:
    """The user of a view behind `requires` or `login_required`."""
    assert isinstance(request.user, User)
    return request.user


View = TypeVar("View", bound=Callable[..., HttpResponse])


def requires(capability: Capability) -> Callable[[View], View]:
    """Signed in (else to the sign-in page) and holding the capability (else 403)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require(request.user, capability)
            return view(request, *args, **kwargs)

        return login_required(wrapped)  # type: ignore[return-value]

    return decorator
