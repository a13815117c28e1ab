"""Content-Security-Policy: Muster's pages load scripts, styles and everything else only from Muster.

No page needs inline script or style (htmx's own inline style is switched off in base.html), so
one fixed policy and a few lines of middleware do; django-csp's nonces and per-view policies
would be machinery without a use. Django 6.0 brings a built-in ContentSecurityPolicyMiddleware
(SECURE_CSP); when Muster moves to it (it needs Python 3.12), this policy carries over as is.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's icons are data: images in its stylesheet.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        # Forms post to Muster only; hand-offs to Qualtrics are links and redirects, not forms.
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
