"""Rate limits: django-ratelimit counts, in the default cache that every process shares (the
database, or Redis); this module answers 429 with Retry-After, the seconds until the caller's
window ends.

    @limit("sign-in", "30/m", method="POST")
    def sign_in(request): ...

    seconds = over(request, "webhook", "1200/m")
    if seconds: ...
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django_ratelimit import ALL
from django_ratelimit.core import get_usage

View = Callable[..., HttpResponseBase]


# A key as django-ratelimit takes it: "ip", "header:x-name", ..., or a callable (group, request) -> str.
Key = str | Callable[[str, HttpRequest], str]


def over(request: HttpRequest, group: str, rate: str, key: Key = "ip", method: Any = ALL) -> int | None:
    """Counts this request against `rate` (e.g. "60/m") for its `key` (by default, its address).

    Returns the seconds until the window ends when the request is over the limit, else None.
    """
    usage = get_usage(request, group=group, key=key, rate=rate, method=method, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


def too_many_requests(request: HttpRequest, seconds: int) -> HttpResponse:
    response = render(request, "429.html", {"wait": wait_text(seconds)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def limit(group: str, rate: str, key: Key = "ip", method: Any = ALL) -> Callable[[View], View]:
    """A view decorator: over the limit, the 429 page instead of the view."""

    def decorator(view: View) -> View:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            seconds = over(request, group, rate, key=key, method=method)
            if seconds:
                return too_many_requests(request, seconds)
            return view(request, *args, **kwargs)

        return limited

    return decorator
