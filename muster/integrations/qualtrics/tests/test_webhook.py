from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from urllib.parse import urlencode

from django.http import HttpResponse
from django.test import Client

from muster.crypto import Secret
from muster.integrations.qualtrics.models import QualtricsConnection, WebhookEvent
from muster.integrations.qualtrics.tests.recorded import recorded_path
from muster.integrations.qualtrics.webhook import sign
from muster.test import BaseTestCase

URL = "/integrations/qualtrics/webhook/"
KEY = "a-shared-key-only-muster-and-qualtrics-know"


def form(msg: Mapping[str, object] | str, key: str | None = KEY, topic: str = "") -> str:
    raw = msg if isinstance(msg, str) else json.dumps(msg)
    fields = {"Topic": topic or "brand1.surveyengine.completedResponse.SV_1", "MSG": raw}
    if key is not None:
        fields["HMAC"] = sign(raw, key)
    return urlencode(fields)


MSG = {"Status": "Complete", "SurveyID": "SV_1", "ResponseID": "R_1", "CompletedDate": "2026-11-28 10:00:00"}


class WebhookTestCase(BaseTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.connection = QualtricsConnection(
            base_url="https://iad1.qualtrics.com", brand_id="brand1", service_user_id="UR_1", service_username="m"
        )
        self.connection.token = Secret("service-token")
        self.connection.shared_key = Secret(KEY)
        self.connection.save()
        # Qualtrics sends no CSRF token: this route alone must not need one.
        self.client = Client(enforce_csrf_checks=True)

    def post(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> HttpResponse:
        return self.client.post(URL, body, content_type=content_type)  # type: ignore[return-value]

    def test_it_records_a_signed_event(self) -> None:
        r = self.post(form(MSG))
        self.assertEqual(r.status_code, 200)
        event = WebhookEvent.objects.get()
        self.assertEqual((event.survey_id, event.response_id, event.kind), ("SV_1", "R_1", "completedResponse"))
        self.connection.refresh_from_db()
        self.assertIsNotNone(self.connection.last_webhook_at)

    def test_it_records_a_replayed_event_once(self) -> None:
        self.post(form(MSG))
        r = self.post(form(MSG))
        self.assertEqual(r.status_code, 200)
        self.assertEqual(WebhookEvent.objects.count(), 1)

    def test_a_partial_and_a_completion_of_one_response_are_two_events(self) -> None:
        self.post(form(MSG, topic="brand1.surveyengine.partialResponse.SV_1"))
        self.post(form(MSG))
        self.assertEqual(
            sorted(WebhookEvent.objects.values_list("kind", flat=True)), ["completedResponse", "partialResponse"]
        )

    def test_it_refuses_a_forged_hmac(self) -> None:
        r = self.post(form(MSG, key="guessed-key"))
        self.assertEqual(r.status_code, 403)
        self.assertFalse(WebhookEvent.objects.exists())

    def test_it_refuses_a_missing_hmac(self) -> None:
        r = self.post(form(MSG, key=None))
        self.assertEqual(r.status_code, 403)
        self.assertFalse(WebhookEvent.objects.exists())

    def test_it_refuses_a_message_changed_after_signing(self) -> None:
        body = form(MSG).replace("R_1", "R_2")
        self.assertEqual(self.post(body).status_code, 403)

    def test_it_answers_400_to_a_body_without_the_fields(self) -> None:
        self.assertEqual(self.post("hello=world").status_code, 400)
        self.assertEqual(self.post(json.dumps(MSG), content_type="application/json").status_code, 400)

    def test_it_answers_400_to_a_signed_message_that_is_not_json(self) -> None:
        self.assertEqual(self.post(form("{not json")).status_code, 400)
        self.assertEqual(self.post(form({"SurveyID": "SV_1"})).status_code, 400)
        self.assertFalse(WebhookEvent.objects.exists())

    def test_it_answers_413_to_a_huge_body(self) -> None:
        r = self.post(form({**MSG, "padding": "x" * 70_000}))
        self.assertEqual(r.status_code, 413)
        self.assertFalse(WebhookEvent.objects.exists())

    def test_it_refuses_a_non_ascii_hmac_with_403(self) -> None:
        topic = "brand1.surveyengine.completedResponse.SV_1"
        r = self.post(urlencode({"Topic": topic, "MSG": json.dumps(MSG), "HMAC": "é" * 128}))
        self.assertEqual(r.status_code, 403)
        self.assertFalse(WebhookEvent.objects.exists())

    def test_it_stores_a_long_response_id_whole(self) -> None:
        longest = "R_" + "x" * 98
        self.assertEqual(self.post(form({**MSG, "ResponseID": longest})).status_code, 200)
        self.assertEqual(WebhookEvent.objects.get().response_id, longest)

    def test_it_refuses_ids_too_long_to_store_instead_of_cutting_them(self) -> None:
        # Cut at 100 characters, these two would collapse into one event.
        for last in "ab":
            r = self.post(form({**MSG, "ResponseID": "R_" + "x" * 98 + last}))
            self.assertEqual(r.status_code, 400)
            self.assertIn("ResponseID", json.loads(r.content)["message"])
        r = self.post(form({**MSG, "SurveyID": "SV_" + "x" * 98}))
        self.assertEqual(r.status_code, 400)
        self.assertIn("SurveyID", json.loads(r.content)["message"])
        r = self.post(form(MSG, topic="brand1.surveyengine.completedResponse." + "x" * 300))
        self.assertEqual(r.status_code, 400)
        self.assertIn("Topic", json.loads(r.content)["message"])
        self.assertFalse(WebhookEvent.objects.exists())

    def test_it_refuses_a_nul_in_a_signed_event_with_400(self) -> None:
        for msg in ({**MSG, "ResponseID": "R_1\x00"}, {**MSG, "Extra": {"note": "a\x00b"}}):
            r = self.post(form(msg))
            self.assertEqual(r.status_code, 400)
            self.assertIn("NUL", json.loads(r.content)["message"])
        self.assertEqual(self.post(form(MSG, topic="brand1.surveyengine.completedResponse.SV_1\x00")).status_code, 400)
        self.assertFalse(WebhookEvent.objects.exists())

    def test_a_newline_in_the_topic_cannot_forge_a_log_line(self) -> None:
        forged = "brand1.surveyengine.completedResponse.SV_1\n2026-11-28 10:00:00,000 INFO muster Admin signed in"
        handler = next(h for h in logging.getLogger().handlers if h.name == "console")
        assert isinstance(handler, logging.StreamHandler)
        written = io.StringIO()
        previous = handler.setStream(written)
        try:
            self.post(form(MSG, key="guessed-key", topic=forged))
        finally:
            handler.setStream(previous)
        lines = written.getvalue().splitlines()
        self.assertEqual([line for line in lines if line.startswith("2026-11-28")], [], "a forged record")
        self.assertIn("(topic brand1.surveyengine.completedResponse.SV_1\\n2026-11-28 10:00:00,000 INFO", lines[0])

    def test_a_body_of_unknown_length_the_server_cannot_end_gets_411(self) -> None:
        # Without Content-Length, only a server that ends the stream itself (gunicorn, for chunked
        # bodies) can say where the body stops; test_webhook_served covers that case.
        r = self.client.generic("POST", URL, form(MSG), "application/x-www-form-urlencoded", CONTENT_LENGTH="")
        self.assertEqual(r.status_code, 411)
        self.assertFalse(WebhookEvent.objects.exists())

    def test_get_answers_200_and_does_nothing(self) -> None:
        r = self.client.get(URL)
        self.assertEqual(r.status_code, 200)
        self.assertFalse(WebhookEvent.objects.exists())

    def test_it_refuses_events_when_not_subscribed(self) -> None:
        QualtricsConnection.objects.all().delete()
        self.assertEqual(self.post(form(MSG)).status_code, 403)

    def test_it_accepts_the_recorded_qualtrics_body_byte_for_byte(self) -> None:
        raw = recorded_path("kyma-connector-tools__webhook_completedResponse_form-urlencoded_with-HMAC.txt")
        self.connection.shared_key = Secret("kyma4ever")
        self.connection.save()
        r = self.post(raw.read_text().strip())
        self.assertEqual(r.status_code, 200)
        event = WebhookEvent.objects.get()
        self.assertEqual(event.response_id, "R_1l9mcVuXubb4aGm")
        self.assertEqual(event.survey_id, "SV_22VlHYNeldrrrkp")

    def test_other_routes_still_need_csrf(self) -> None:
        self.client.force_login(self.alice)
        r = self.client.post("/settings/api-tokens/", {"name": "x"})
        self.assertEqual(r.status_code, 403)


def test_the_signature_reproduces_the_recorded_qualtrics_hmac() -> None:
    decoded = recorded_path("kyma-connector-tools__webhook_completedResponse_decoded.json")
    text = decoded.read_text()
    data = json.loads(text)
    vectors = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            signature = node.get("HMAC") or node.get("HMAC_SHA512_hex")
            if "MSG" in node and signature:
                vectors.append((node["MSG"], signature))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    assert len(vectors) == 2, "the recording holds two MSG/HMAC pairs"
    for msg, expected in vectors:
        assert sign(msg, "kyma4ever") == expected.lower()


class ReturnPageTestCase(BaseTestCase):
    def test_it_thanks_the_participant_and_shows_no_answers(self) -> None:
        r = self.client.get("/q/return/", {"rid": "R_abc", "pid": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
        self.assertContains(r, "Thank you")
        self.assertNotContains(r, "R_abc")
        self.assertNotContains(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
