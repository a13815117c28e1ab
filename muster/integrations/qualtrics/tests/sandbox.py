"""A real Qualtrics sandbox over HTTP for Muster's tests, one brand per test."""

from __future__ import annotations

import secrets
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from django.test import override_settings

from muster.crypto import Secret
from muster.integrations.qualtrics import connect
from muster.integrations.qualtrics.models import QualtricsConnection
from muster.test import BaseTestCase
from qualtrics_sandbox import builders, seed
from qualtrics_sandbox.testing import SandboxServer


def a_definition(name: str = "Checkout study") -> dict[str, Any]:
    return builders.survey(
        name,
        [builders.multiple_choice("QID1", "Which checkout?", ["A", "B"]), builders.text_entry("QID2", "Why?")],
        embedded=["rallyParticipantId"],
    )


class SandboxMixin:
    sandbox: ClassVar[SandboxServer]
    allowed: ClassVar[override_settings]
    # Knobs of the sandbox this test class runs against (e.g. {"export_seconds": 6}).
    sandbox_options: ClassVar[dict[str, Any]] = {}
    brand: dict[str, Any]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()  # type: ignore[misc]
        cls.start_sandbox()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.stop_sandbox()
        super().tearDownClass()  # type: ignore[misc]

    @classmethod
    def start_sandbox(cls) -> None:
        cls.sandbox = SandboxServer(**{"webhook_retry_seconds": 0.1, **cls.sandbox_options}).__enter__()
        netloc = urlsplit(cls.sandbox.url).netloc
        cls.allowed = override_settings(MUSTER_QUALTRICS_ALLOWED_HOSTS=["*.qualtrics.com", netloc])
        cls.allowed.enable()

    @classmethod
    def stop_sandbox(cls) -> None:
        cls.allowed.disable()
        cls.sandbox.__exit__(None, None, None)

    def new_brand(self) -> dict[str, Any]:
        brand_id = "brand" + secrets.token_hex(4)
        self.brand = self.control("POST", "/_sandbox/brands", {"brandId": brand_id})
        return self.brand

    def control(self, method: str, path: str, body: Any = None) -> Any:
        r = httpx.request(method, self.sandbox.url + path, json=body, timeout=10)
        assert r.status_code < 400, r.text
        return r.json() if r.content else None

    def v3(self, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
        return httpx.request(
            method, f"{self.sandbox.url}/API/v3/{path}", json=body, headers={"X-API-TOKEN": token}, timeout=10
        )

    def add_survey(self, active: bool = True, name: str = "Checkout study") -> str:
        body = {"ownerId": self.brand["adminUserId"], "active": active, "definition": a_definition(name)}
        return str(self.control("POST", "/_sandbox/surveys", body)["surveyId"])

    def share_demo_screener(self, connection: QualtricsConnection, public_url: str, survey_id: str = "") -> str:
        """The sandbox's demo screener in this brand, redirecting to `public_url`, shared with Muster's
        service user; its survey id."""
        definition = seed.screener(survey_id or f"SV_{secrets.token_hex(7)}", seed.return_url(public_url))
        body = {"ownerId": self.brand["adminUserId"], "active": True, "definition": definition}
        survey = str(self.control("POST", "/_sandbox/surveys", body)["surveyId"])
        self.control("POST", f"/_sandbox/surveys/{survey}/share", {"userId": connection.service_user_id})
        return survey

    def connect_as_admin(self) -> QualtricsConnection:
        return connect.connect(
            base_url=self.sandbox.url,
            brand_admin_token=Secret(self.brand["adminToken"]),
            user_type=self.brand["userTypes"]["standard"],
            by=None,
        ).connection

    def sandbox_users(self) -> list[dict[str, Any]]:
        r = self.v3("GET", "users", self.brand["adminToken"])
        return list(r.json()["result"]["elements"])

    def sandbox_subscriptions(self) -> list[dict[str, Any]]:
        r = self.v3("GET", "eventsubscriptions", self.brand["adminToken"])
        return list(r.json()["result"]["elements"])


class SandboxTestCase(SandboxMixin, BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.new_brand()
