"""Shared test fixtures: one persona per role (DESIGN §5.2)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from unittest import mock

from django.test import TestCase

from muster.accounts.models import ApiToken, User
from muster.accounts.roles import Role

PASSWORD = "correct horse battery staple"  # noqa: S105


def make_user(email: str, role: Role, name: str = "") -> User:
    return User.objects.create_user(email, PASSWORD, name=name, role=role)


class BaseTestCase(TestCase):
    def setUp(self) -> None:
        super().setUp()
        # Alice is the Admin: she manages users and everything else.
        self.alice = make_user("alice@example.org", Role.ADMIN, "Alice Admin")
        # Olga runs research operations: everything but users.
        self.olga = make_user("olga@example.org", Role.OPS_MANAGER, "Olga Ops")
        # Rita is a Researcher: people and studies, not definitions, panels review or integration setup.
        self.rita = make_user("rita@example.org", Role.RESEARCHER, "Rita Researcher")
        # Dev is a Developer: integrations and the API, never unmasked PII.
        self.dev = make_user("dev@example.org", Role.DEVELOPER, "Dev Developer")
        # Oscar is an Observer: reads everything with PII masked, changes nothing.
        self.oscar = make_user("oscar@example.org", Role.OBSERVER, "Oscar Observer")

    @property
    def personas(self) -> dict[Role, User]:
        return {
            Role.ADMIN: self.alice,
            Role.OPS_MANAGER: self.olga,
            Role.RESEARCHER: self.rita,
            Role.DEVELOPER: self.dev,
            Role.OBSERVER: self.oscar,
        }

    def hold_rate_limit_clock(self) -> None:
        """Rate limits count in fixed windows: hold django-ratelimit's clock still for this test so
        that its requests never straddle two windows (which would reset the count half-way)."""
        clock = mock.patch("django_ratelimit.core.time", SimpleNamespace(time=lambda: 1_800_000_000.0))
        clock.start()
        self.addCleanup(clock.stop)

    def api(self, user: User, method: str, url: str, body: Any = None) -> Any:
        """Calls /api/v1<url> as `user`, with a fresh API token, sending `body` as JSON."""
        _, raw = ApiToken.issue(user, "test")
        kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {raw}"}}
        if body is not None:
            kwargs |= {"data": body, "content_type": "application/json"}
        return getattr(self.client, method)(f"/api/v1{url}", **kwargs)
