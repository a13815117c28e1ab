"""Every rate limit answers 429 with Retry-After, on pages, the webhook and the API alike."""

from __future__ import annotations

import json
from typing import Any

from django.core.cache import cache
from django.test import override_settings

from muster.people.values import create_person
from muster.studies.models import Study, StudyParticipant
from muster.test import PASSWORD, BaseTestCase

FORGED_PID = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class RateLimitsTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        cache.clear()
        self.hold_rate_limit_clock()

    def assert_too_many(self, r: Any) -> None:
        self.assertEqual(r.status_code, 429)
        self.assertTrue(1 <= int(r["Retry-After"]) <= 3600, r["Retry-After"])

    def test_sign_in_answers_429_with_retry_after(self) -> None:
        for n in range(30):
            r = self.client.post("/sign-in/", {"username": f"nobody{n}@example.org", "password": "x"})
            self.assertEqual(r.status_code, 200)
        r = self.client.post("/sign-in/", {"username": "rita@example.org", "password": PASSWORD})
        self.assert_too_many(r)
        self.assertContains(r, "Too many requests", status_code=429)
        self.assertNotContains(r, "ask an Admin", status_code=429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_a_sign_in_lockout_says_when_to_try_again(self) -> None:
        for _ in range(5):
            self.client.post("/sign-in/", {"username": "rita@example.org", "password": "nope"})
        r = self.client.post("/sign-in/", {"username": "rita@example.org", "password": PASSWORD})
        self.assertEqual(r.status_code, 429)
        self.assertEqual(r["Retry-After"], "900")

    def test_password_reset_answers_429_with_retry_after(self) -> None:
        for _ in range(10):
            self.assertEqual(self.client.post("/password-reset/", {"email": "rita@example.org"}).status_code, 302)
        r = self.client.post("/password-reset/", {"email": "rita@example.org"})
        self.assert_too_many(r)
        self.assertContains(r, "Too many requests", status_code=429)

    def test_the_survey_return_limits_forged_participant_ids_only(self) -> None:
        person = create_person("pat@example.org", source="manual")
        study = Study.objects.create(name="Study", landing_slug="study")
        real = StudyParticipant.objects.create(study=study, person=person).participant_id
        for _ in range(60):
            self.assertEqual(self.client.get("/q/return/", {"rid": "R_1", "pid": FORGED_PID}).status_code, 200)
        self.assert_too_many(self.client.get("/q/return/", {"rid": "R_1", "pid": FORGED_PID}))
        self.assert_too_many(self.client.get("/q/return/", {"rid": "R_1"}))
        # A participant coming back from their survey is never turned away, however busy the address.
        for _ in range(100):
            r = self.client.get("/q/return/", {"rid": "R_1", "pid": real})
            self.assertContains(r, "Thank you")

    def test_the_survey_return_survives_a_nul_in_the_participant_id(self) -> None:
        self.assertEqual(self.client.get("/q/return/", {"rid": "R_1", "pid": "A\x00"}).status_code, 200)

    @override_settings(MUSTER_API_CALLS_PER_MINUTE=5)
    def test_the_api_limits_calls_without_a_valid_token_per_address(self) -> None:
        kinds = [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}]
        for n in range(5):
            self.assertEqual(self.client.get("/api/v1/me", headers=kinds[n % 3]).status_code, 401)
        r = self.client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
        self.assert_too_many(r)
        self.assertIn("5 a minute", json.loads(r.content)["message"])
        self.assert_too_many(self.client.get("/api/v1/me"))
        # A valid token has its own budget, per user.
        self.assertEqual(self.api(self.rita, "get", "/me").status_code, 200)

    @override_settings(MUSTER_API_CALLS_PER_MINUTE=3)
    def test_the_api_limits_each_user_with_retry_after(self) -> None:
        for _ in range(3):
            self.assertEqual(self.api(self.rita, "get", "/me").status_code, 200)
        r = self.api(self.rita, "get", "/me")
        self.assert_too_many(r)
        self.assertIn("per user", json.loads(r.content)["message"])
        self.assertEqual(self.api(self.olga, "get", "/me").status_code, 200)

    def test_the_webhook_answers_429_with_retry_after(self) -> None:
        for _ in range(1200):
            self.client.post("/integrations/qualtrics/webhook/", {"Topic": "t"})
        self.assert_too_many(self.client.post("/integrations/qualtrics/webhook/", {"Topic": "t"}))
