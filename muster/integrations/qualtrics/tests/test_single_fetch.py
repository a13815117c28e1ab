"""The two push paths over real HTTP against the sandbox: the return redirect and the webhook each
queue one fetch of the response, which lands through the one ingestion function.

Queued tasks are run by calling the task directly (`run_fetches`), due or not: a db_worker would
wait for each one's run_after, which is what the backoff tests check instead of waiting it out.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from unittest.mock import patch
from urllib.parse import urlencode

import stamina
from django.test import override_settings
from django.utils.timezone import now
from django_tasks_db.models import DBTaskResult

from muster.crypto import Secret
from muster.integrations.qualtrics import sync
from muster.integrations.qualtrics.models import ConnectionStatus, PendingFetch, WebhookEvent
from muster.integrations.qualtrics.sync import fetch_response
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase
from muster.integrations.qualtrics.webhook import sign
from muster.people.models import Property, PropertyValueChange
from muster.people.properties import create_property
from muster.people.values import create_person, values_of
from muster.studies.details import create_study
from muster.studies.models import StudyParticipant
from muster.surveys.attach import Owner, attach
from muster.surveys.mappings import Wanted, save_mappings
from muster.surveys.models import OwnerKind, Response, SurveyForm

PUBLIC = "https://muster.example.org"
KEY = "the-subscription-shared-key"
WEBHOOK = "/integrations/qualtrics/webhook/"


@override_settings(MUSTER_PUBLIC_URL=PUBLIC)
class SingleFetchTestCase(SandboxTestCase):
    def setUp(self) -> None:
        super().setUp()
        # The client's own quick retries would only slow the fault tests down.
        stamina.set_testing(True, attempts=1)
        self.addCleanup(stamina.set_testing, False)
        self.connection = self.connect_as_admin()
        self.connection.shared_key = Secret(KEY)
        self.connection.save()
        self.survey = self.add_screener()
        self.study = create_study(self.olga, name="Grocery habits", landing_slug="grocery")
        self.region = create_property(
            "region", "Region", "single_select", options=["Northern", "South", "East", "West"]
        )
        self.form = attach(Owner(OwnerKind.SCREENER, study=self.study), "qualtrics", self.survey, self.olga)
        save_mappings(
            self.form,
            [
                Wanted("QID1", create={"key": "shop_freq", "label": "Shopping frequency"}),
                Wanted("QID3", None, "region", options={"1": "Northern"}),
            ],
            self.olga,
            may_create=True,
        )
        self.pat = create_person("pat@example.org", source="manual")
        self.participant = StudyParticipant.objects.create(study=self.study, person=self.pat)
        self.pid = self.participant.participant_id

    def add_screener(self) -> str:
        return self.share_demo_screener(self.connection, PUBLIC)

    def respond(self, survey: str | None = None, pid: str | None = None) -> str:
        # QID1 carries the recode: 3 is the second choice, "Every month"; QID3's choice 1 is Northern.
        values = {"QID1": 3, "QID3": 1, "QID9": 8, "QID12_1": 14}
        body = {"values": values, "embeddedData": {"rallyParticipantId": pid or self.pid}}
        [rid] = self.control("POST", f"/_sandbox/surveys/{survey or self.survey}/respond", body)["responseIds"]
        return str(rid)

    def faults(self, config: dict[str, Any]) -> None:
        self.control("PUT", "/_sandbox/faults", config)
        self.addCleanup(self.control, "DELETE", "/_sandbox/faults")

    def queued(self) -> list[DBTaskResult[Any, Any]]:
        return list(DBTaskResult.objects.filter(task_path=fetch_response.module_path, status="READY"))

    def run_fetches(self) -> list[str]:
        outcomes = []
        for queued in self.queued():
            queued.delete()
            outcomes.append(fetch_response.call(*queued.args_kwargs["args"], **queued.args_kwargs["kwargs"]))
        return outcomes

    def webhook(self, rid: str, survey: str | None = None, kind: str = "completedResponse") -> int:
        survey = survey or self.survey
        msg = json.dumps({"Status": "Complete", "SurveyID": survey, "ResponseID": rid, "BrandID": "b"})
        fields = {"Topic": f"b.surveyengine.{kind}.{survey}", "MSG": msg, "HMAC": sign(msg, KEY)}
        r = self.client.post(WEBHOOK, urlencode(fields), content_type="application/x-www-form-urlencoded")
        return int(r.status_code)

    def values(self) -> dict[str, Any]:
        props = list(Property.objects.filter(key__in=["shop_freq", "region"]))
        found = values_of([self.pat], props)
        return {p.key: found.get((self.pat.id, p.id)) for p in props}


class ReturnRedirectTests(SingleFetchTestCase):
    def test_a_valid_pid_queues_one_fetch_and_the_response_lands(self) -> None:
        rid = self.respond()
        r = self.client.get("/q/return/", {"rid": rid, "pid": self.pid})
        self.assertContains(r, "Thank you")
        self.assertEqual([q.args_kwargs["args"] for q in self.queued()], [[self.survey, rid]])
        self.assertEqual(self.run_fetches(), ["created"])

        response = Response.objects.get()
        self.assertEqual((response.response_id, response.participant), (rid, self.participant))
        self.participant.refresh_from_db()
        self.assertEqual(self.participant.status, "screener_completed")
        self.assertEqual(self.values(), {"shop_freq": "Every month", "region": "Northern"})
        sources = set(PropertyValueChange.objects.values_list("revision__source", "revision__source_code"))
        self.assertEqual(sources, {("response", str(response.code))})
        self.assertFalse(PendingFetch.objects.exists())

    def test_the_status_fragment_says_the_answers_are_in_once_they_are(self) -> None:
        rid = self.respond()
        page = self.client.get("/q/return/", {"rid": rid, "pid": self.pid})
        status_url = re.search(r'hx-get="([^"]+)"', page.content.decode())
        assert status_url is not None
        url = status_url.group(1).replace("&amp;", "&")
        self.assertContains(self.client.get(url), "Saving your answers")
        self.run_fetches()
        self.assertContains(self.client.get(url), "your answers are in")

    def test_the_status_fragment_says_on_their_way_after_the_wait(self) -> None:
        page = self.client.get("/q/return/", {"rid": "R_notthere", "pid": self.pid}).content.decode()
        ticket = re.search(r"t=([^&\"]+)", page)
        assert ticket is not None
        r = self.client.get(f"/q/return/status/?t={ticket.group(1)}&n=5")
        self.assertContains(r, "your answers are on their way")
        self.assertNotContains(r, "hx-get")

    def test_an_invalid_pid_fetches_nothing_and_shows_the_same_page(self) -> None:
        rid = self.respond()
        real = self.client.get("/q/return/", {"rid": rid, "pid": self.pid}).content.decode()
        PendingFetch.objects.all().delete()
        DBTaskResult.objects.all().delete()
        forged = self.client.get("/q/return/", {"rid": rid, "pid": "A" * 26}).content.decode()
        self.assertEqual(self.queued(), [])
        self.assertFalse(PendingFetch.objects.exists())

        # The same page but for the signed status ticket and the CSRF token, which say nothing.
        def masked(page: str) -> str:
            return re.sub(r'(t=[^&"]+|"X-CSRFToken": "[^"]+")', "…", page)

        self.assertEqual(masked(real), masked(forged))
        self.assertNotIn(rid, forged)

    def test_an_unknown_response_id_shape_fetches_nothing(self) -> None:
        self.client.get("/q/return/", {"rid": "${e://Field/ResponseID}", "pid": self.pid})
        self.assertEqual(self.queued(), [])

    def test_a_participant_past_the_screener_is_fetched_from_the_survey_step(self) -> None:
        survey = self.add_screener()
        attach(Owner(OwnerKind.SURVEY, study=self.study), "qualtrics", survey, self.olga)
        self.participant.status = "screener_qualified"
        self.participant.save()
        rid = self.respond(survey)
        self.client.get("/q/return/", {"rid": rid, "pid": self.pid})
        self.assertEqual([q.args_kwargs["args"] for q in self.queued()], [[survey, rid]])
        self.assertEqual(self.run_fetches(), ["created"])
        self.participant.refresh_from_db()
        self.assertEqual(self.participant.status, "survey_completed")

    def test_a_404_on_the_guessed_step_falls_back_to_the_other_forms_survey(self) -> None:
        survey = self.add_screener()
        attach(Owner(OwnerKind.SURVEY, study=self.study), "qualtrics", survey, self.olga)
        rid = self.respond(survey)  # the participant still shows as on the screener
        self.client.get("/q/return/", {"rid": rid, "pid": self.pid})
        self.assertEqual(self.run_fetches(), ["created"])
        self.assertEqual(Response.objects.get().survey_id, survey)


class BackoffTests(SingleFetchTestCase):
    def test_a_202_then_success_converges(self) -> None:
        self.faults({"responses": {"notYetAvailableSeconds": 30}})
        rid = self.respond()
        self.client.get("/q/return/", {"rid": rid, "pid": self.pid})
        self.assertEqual(self.run_fetches(), ["later"])
        [again] = self.queued()
        self.assertGreater(again.run_after, now() + timedelta(seconds=1))
        self.assertEqual(PendingFetch.objects.get().attempts, 1)

        self.control("POST", "/_sandbox/clock", {"advanceSeconds": 31})
        self.assertEqual(self.run_fetches(), ["created"])
        self.assertEqual(Response.objects.get().response_id, rid)
        self.assertFalse(PendingFetch.objects.exists())

    def test_a_fetch_still_not_available_after_ten_minutes_is_given_up_and_says_so_on_the_form(self) -> None:
        self.faults({"responses": {"notYetAvailableSeconds": 3600}})
        rid = self.respond()
        sync.request_fetch(self.connection, self.survey, rid)
        outcomes = []
        while self.queued():
            outcomes += self.run_fetches()
        self.assertEqual(outcomes, ["later"] * len(sync.BACKOFF) + ["given up"])
        self.assertGreaterEqual(sum(sync.BACKOFF), 9 * 60)
        self.form.refresh_from_db()
        self.assertIn(
            f"Response {rid} could not be fetched: Qualtrics kept saying it is not available yet", self.form.sync_error
        )
        self.assertFalse(PendingFetch.objects.exists())

    def test_a_server_error_backs_off_and_retries(self) -> None:
        self.faults(
            {"endpoints": [{"method": "GET", "path": "/API/v3/surveys/*/responses/*", "error503": 1, "times": 1}]}
        )
        rid = self.respond()
        sync.request_fetch(self.connection, self.survey, rid)
        self.assertEqual(self.run_fetches(), ["later"])
        self.assertIn("did not answer", PendingFetch.objects.get().last_error)
        self.assertEqual(self.run_fetches(), ["created"])

    def test_a_429_waits_at_least_what_retry_after_asks(self) -> None:
        self.faults(
            {"endpoints": [{"path": "/API/v3/surveys/*/responses/*", "rateLimit": 1, "retryAfter": 20, "times": 1}]}
        )
        rid = self.respond()
        sync.request_fetch(self.connection, self.survey, rid)
        self.assertEqual(self.run_fetches(), ["later"])
        [again] = self.queued()
        self.assertGreater(again.run_after, now() + timedelta(seconds=15))
        self.assertEqual(self.run_fetches(), ["created"])

    def test_a_spent_call_budget_comes_back_after_its_window_and_drops_nothing(self) -> None:
        rid = self.respond()
        sync.request_fetch(self.connection, self.survey, rid)
        # The minute's budget is spent; the next window opens in 30 s.
        with patch("muster.integrations.qualtrics.budget.try_spend", autospec=True, return_value=30.0):
            self.assertEqual(self.run_fetches(), ["later"])
        pending = PendingFetch.objects.get()
        self.assertEqual(pending.attempts, 0)  # Muster's own wait is not an attempt
        self.assertIn("budget", pending.last_error)
        [again] = self.queued()
        self.assertGreater(again.run_after, now() + timedelta(seconds=25))
        self.assertEqual(self.run_fetches(), ["created"])

    def test_an_auth_error_marks_the_connection_broken_and_stops(self) -> None:
        rid = self.respond()
        # A new token for the service user invalidates the one Muster holds.
        self.v3("POST", f"users/{self.connection.service_user_id}/apitoken", self.brand["adminToken"])
        sync.request_fetch(self.connection, self.survey, rid)
        self.assertEqual(self.run_fetches(), ["connection broken"])
        self.connection.refresh_from_db()
        self.assertEqual(self.connection.status, ConnectionStatus.BROKEN)
        self.assertIn("token stopped working", self.connection.status_reason)
        self.assertEqual(self.queued(), [])
        self.assertFalse(PendingFetch.objects.exists())
        self.assertFalse(Response.objects.exists())


class WebhookFetchTests(SingleFetchTestCase):
    def test_a_webhook_queues_a_fetch_and_notes_when_the_form_last_heard(self) -> None:
        rid = self.respond()
        self.assertEqual(self.webhook(rid), 200)
        self.assertEqual(self.run_fetches(), ["created"])
        self.assertEqual(WebhookEvent.objects.get().processed_at is not None, True)
        self.form.refresh_from_db()
        self.assertIsNotNone(self.form.last_webhook_at)
        self.participant.refresh_from_db()
        self.assertEqual(self.participant.status, "screener_completed")

    def test_a_duplicated_webhook_yields_one_fetch_and_one_response(self) -> None:
        rid = self.respond()
        for _ in range(3):
            self.assertEqual(self.webhook(rid), 200)
        self.assertEqual(len(self.queued()), 1)
        self.assertEqual(self.run_fetches(), ["created"])
        self.assertEqual(self.webhook(rid), 200)
        self.assertEqual(self.queued(), [])
        self.assertEqual(Response.objects.count(), 1)

    def test_a_webhook_and_the_redirect_together_fetch_once(self) -> None:
        rid = self.respond()
        self.client.get("/q/return/", {"rid": rid, "pid": self.pid})
        self.webhook(rid)
        self.assertEqual(len(self.queued()), 1)
        self.assertEqual(self.run_fetches(), ["created"])
        # A late one of either, once the response is in, fetches nothing.
        self.client.get("/q/return/", {"rid": rid, "pid": self.pid})
        self.webhook(rid, kind="partialResponse")
        self.assertEqual(self.queued(), [])
        self.assertEqual(Response.objects.count(), 1)

    def test_an_event_for_a_survey_no_form_uses_is_dropped(self) -> None:
        other = self.add_screener()
        rid = self.respond(other)
        self.assertEqual(self.webhook(rid, other), 200)
        self.assertEqual(self.queued(), [])
        event = WebhookEvent.objects.get()
        self.assertIsNotNone(event.processed_at)
        self.assertFalse(Response.objects.exists())
        self.form.refresh_from_db()
        self.assertIsNone(self.form.last_webhook_at)

    def test_a_lost_fetch_task_is_taken_over_by_the_next_request(self) -> None:
        rid = self.respond()
        self.webhook(rid)
        DBTaskResult.objects.all().delete()  # its worker died before running it
        PendingFetch.objects.update(next_attempt_at=now() - sync.STALE - timedelta(seconds=1))
        self.client.get("/q/return/", {"rid": rid, "pid": self.pid})
        self.assertEqual(self.run_fetches(), ["created"])

    def test_an_event_of_a_detached_form_is_dropped(self) -> None:
        SurveyForm.objects.update(detached_at=now())
        self.webhook(self.respond())
        self.assertEqual(self.queued(), [])
        self.assertIsNotNone(WebhookEvent.objects.get().processed_at)

    def test_while_the_connection_is_broken_an_event_waits_for_the_reconciliation(self) -> None:
        self.connection.status = ConnectionStatus.BROKEN
        self.connection.save()
        self.assertEqual(self.webhook(self.respond()), 200)
        self.assertEqual(self.queued(), [])
        self.assertIsNone(WebhookEvent.objects.get().processed_at)

    def test_while_the_connection_is_broken_the_return_page_still_thanks_and_fetches_nothing(self) -> None:
        self.connection.status = ConnectionStatus.BROKEN
        self.connection.save()
        self.assertContains(self.client.get("/q/return/", {"rid": self.respond(), "pid": self.pid}), "Thank you")
        self.assertEqual(self.queued(), [])
