"""Every URL pattern and every API operation has an expected outcome for every role.

A new route fails this test until it joins one of the tables below, so no route ships without
an access decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, reverse

from muster.accounts.models import ApiToken, User
from muster.accounts.roles import Role
from muster.api.api import api
from muster.test import BaseTestCase

ALL = frozenset(Role)
TOKEN_OWNERS = frozenset({Role.ADMIN, Role.OPS_MANAGER, Role.RESEARCHER, Role.DEVELOPER})


@dataclass
class Route:
    roles: frozenset[Role] | None  # None: a public page, the same for everyone
    method: str = "get"
    kwargs: Callable[[BaseTestCase, User], dict[str, Any]] = field(default=lambda t, u: {})
    ok: int = 200
    data: dict[str, Any] = field(default_factory=dict)


def _own_token(t: BaseTestCase, u: User) -> dict[str, Any]:
    return {"code": ApiToken.issue(u, "matrix")[0].code}


VIEWS: dict[str, Route] = {
    "login": Route(None),
    "logout": Route(None, method="post", ok=302),
    "password_reset": Route(None),
    "password_reset_done": Route(None),
    "password_reset_confirm": Route(None, kwargs=lambda t, u: {"uidb64": "MQ", "token": "x-y"}),
    "password_reset_complete": Route(None),
    "index": Route(ALL, ok=302),
    "account": Route(ALL),
    "people": Route(ALL),
    "panels": Route(ALL),
    "studies": Route(ALL),
    "settings": Route(ALL),
    "users": Route(frozenset({Role.ADMIN})),
    "user_update": Route(
        frozenset({Role.ADMIN}),
        method="post",
        ok=302,
        kwargs=lambda t, u: {"code": t.oscar.code},
        data={"role": "observer", "is_active": "on"},
    ),
    "api_tokens": Route(TOKEN_OWNERS),
    "api_token_revoke": Route(TOKEN_OWNERS, method="post", ok=302, kwargs=_own_token),
}

# (method, path) -> roles whose token may call it; everyone else gets 403, no token 401.
API: dict[tuple[str, str], frozenset[Role]] = {
    ("get", "/api/v1/me"): TOKEN_OWNERS,
}


def url_names(resolver: URLResolver, namespace: str = "") -> list[str]:
    names = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            # Django admin guards itself (Admins only, checked below); the API has its own table.
            if p.namespace in ("admin", "api"):
                continue
            names += url_names(p, f"{namespace}{p.namespace}:" if p.namespace else namespace)
        elif isinstance(p, URLPattern) and p.name:
            names.append(namespace + p.name)
    return names


class PermissionMatrixTestCase(BaseTestCase):
    def test_every_url_pattern_has_an_expectation(self) -> None:
        missing = sorted(set(url_names(get_resolver())) - set(VIEWS))
        self.assertEqual(missing, [], "add these routes to VIEWS in this test")

    def test_every_api_operation_has_an_expectation(self) -> None:
        schema = api.get_openapi_schema()
        operations = {(m, path) for path, ops in schema["paths"].items() for m in ops}
        self.assertEqual(sorted(operations - set(API)), [], "add these operations to API in this test")

    def test_each_role_gets_the_expected_outcome_on_every_page(self) -> None:
        for name, route in VIEWS.items():
            for role, user in self.personas.items():
                self.client.force_login(user)
                url = reverse(name, kwargs=route.kwargs(self, user))
                r = getattr(self.client, route.method)(url, route.data)
                expected = route.ok if route.roles is None or role in route.roles else 403
                if name == "login":
                    expected = 302  # a signed-in user is sent on
                if name == "logout":
                    self.client.force_login(user)
                self.assertEqual(r.status_code, expected, f"{role} on {name}")
            self.client.logout()
            r = getattr(self.client, route.method)(reverse(name, kwargs=route.kwargs(self, self.alice)), route.data)
            if route.roles is None:
                self.assertEqual(r.status_code, route.ok, f"anonymous on {name}")
            else:
                self.assertEqual(r.status_code, 302, f"anonymous on {name}")
                self.assertTrue(r["Location"].startswith("/sign-in/"), name)

    def test_each_role_gets_the_expected_outcome_on_every_api_operation(self) -> None:
        for (method, path), roles in API.items():
            for role, user in self.personas.items():
                _, raw = ApiToken.issue(user, "matrix")
                r = getattr(self.client, method)(path, headers={"Authorization": f"Bearer {raw}"})
                if role == Role.OBSERVER:
                    expected = 401  # Observers own no tokens, so theirs never authenticates
                else:
                    expected = 200 if role in roles else 403
                self.assertEqual(r.status_code, expected, f"{role} on {method} {path}")
            r = getattr(self.client, method)(path)
            self.assertEqual(r.status_code, 401, f"anonymous on {method} {path}")

    def test_only_admins_reach_django_admin(self) -> None:
        for role, user in self.personas.items():
            self.client.force_login(user)
            r = self.client.get("/admin/", follow=True)
            self.assertEqual(r.status_code, 200 if role == Role.ADMIN else 403, role)
