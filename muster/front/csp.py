"""Content-Security-Policy: Muster's pages load scripts, styles and everything else only from Muster.

No page needs inline script or style (htmx's own inline style is switched off in base.html), so
one policy (its form-action widened to the survey hosts, below) and a few lines of middleware do;
django-csp's nonces and per-view policies would be machinery without a use. Django 6.0 brings a
built-in ContentSecurityPolicyMiddleware (SECURE_CSP); when Muster moves to it (it needs Python
3.12), this policy carries over as is.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

RULES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    # Swagger UI's icons are data: images in its stylesheet.
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
]


@cache
def policy(survey_hosts: tuple[str, ...]) -> str:
    # Forms post to Muster only, but a form's redirects count too: the landing page's "Continue"
    # and Preview post to Muster, which sends the browser on to the survey at Qualtrics. So the
    # hosts a hand-off may lead to (the Qualtrics allowlist) are allowed as its end.
    return "; ".join([*RULES, " ".join(["form-action 'self'", *survey_hosts])])


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        hosts = tuple(settings.MUSTER_QUALTRICS_ALLOWED_HOSTS)
        response.headers.setdefault("Content-Security-Policy", policy(hosts))
        return response
