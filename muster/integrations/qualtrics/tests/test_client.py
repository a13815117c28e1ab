from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from unittest import mock

import httpx
import pytest
from django.test import override_settings
from django.utils.timezone import now

from muster.crypto import Secret
from muster.integrations.qualtrics import budget, client
from muster.integrations.qualtrics.tests.recorded import recorded_json
from muster.test import BaseTestCase

TOKEN = "a-service-token-that-must-stay-home"


def account(
    handler: Callable[[httpx.Request], httpx.Response], base: str = "https://iad1.qualtrics.com"
) -> client.Account:
    return client.Account(base_url=base, token=Secret(TOKEN), transport=httpx.MockTransport(handler))


def ok(result: Any, notice: str | None = None) -> httpx.Response:
    meta: dict[str, Any] = {"httpStatus": "200 - OK", "requestId": "r"}
    if notice:
        meta["notice"] = notice
    return httpx.Response(200, json={"result": result, "meta": meta})


@pytest.fixture(autouse=True)
def no_sleep() -> Any:
    with mock.patch("time.sleep"):
        import stamina

        stamina.set_testing(True, attempts=4)
        yield
        stamina.set_testing(False)


class TestRecordedPayloads:
    def test_the_survey_list_parses(self) -> None:
        body = recorded_json("qualtRics__GET_surveys__list.json")
        page = client.parse(client.Page, body["result"], "page")
        surveys = [client.parse(client.SurveySummary, e, "survey") for e in page.elements]
        assert surveys[0].id.startswith("SV_")
        assert surveys[0].is_active in (True, False)

    def test_the_old_paginated_survey_list_parses(self) -> None:
        data = recorded_json("CambridgeEducation__GET_surveys__list_pagination_nextPage.json")
        pages = [p for p in _bodies(data) if "result" in p]
        assert pages
        for body in pages:
            page = client.parse(client.Page, body["result"], "page")
            for element in page.elements:
                client.parse(client.SurveySummary, element, "survey")

    def test_the_survey_definition_parses(self) -> None:
        body = recorded_json("qualtRics__GET_survey-definitions_SV_3gbwq8aJgqPwQDP.json")
        definition = client.parse(client.SurveyDefinition, body["result"], "definition")
        assert definition.survey_id == "SV_3gbwq8aJgqPwQDP"
        assert definition.questions
        assert definition.brand_base_url

    def test_the_event_subscription_payloads_parse(self) -> None:
        created = recorded_json("kyma-connector-tools__POST_API_v3_eventsubscriptions.json")
        assert client.parse(client.Created, created["result"], "subscription").id.startswith("SUB_")
        listed = recorded_json("kyma-connector-tools__GET_API_v3_eventsubscriptions.json")
        page = client.parse(client.Page, listed["result"], "page")
        for element in page.elements:
            client.parse(client.EventSubscription, element, "subscription")
        for body in _bodies(recorded_json("CambridgeEducation__eventsubscriptions_create-get-list-delete.json")):
            result = body.get("result")
            if isinstance(result, dict) and "topics" in result:
                client.parse(client.EventSubscription, result, "subscription")

    def test_the_export_life_cycle_parses(self) -> None:
        data = recorded_json("qualtRics__export-responses_lifecycle_start-progress-file.json")
        seen = set()
        for body in _bodies(data):
            result = body.get("result")
            if isinstance(result, dict) and "status" in result:
                progress = client.parse(client.ExportProgress, result, "export progress")
                seen.add(progress.status)
                if progress.status == "complete":
                    assert progress.file_id
        assert {"inProgress", "complete"} <= seen

    def test_both_recorded_error_envelopes_give_their_message_and_code(self) -> None:
        data = recorded_json("CambridgeEducation__error-responses.json")
        bodies = [b for b in _bodies(data) if isinstance(b.get("meta"), dict)]
        assert bodies
        for body in bodies:
            status = _status(body)
            error = client.QualtricsError.from_response(
                httpx.Response(status, json=body, request=httpx.Request("GET", "https://co1.qualtrics.com/API/v3/x"))
            )
            assert not error.message.startswith("Qualtrics answered HTTP"), body
            assert error.code, body


def _bodies(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "meta" in node:
            found.append(node)
        for value in node.values():
            if isinstance(value, str) and value.startswith("{"):
                try:
                    found += _bodies(json.loads(value))
                except ValueError:
                    pass
            else:
                found += _bodies(value)
    elif isinstance(node, list):
        for value in node:
            found += _bodies(value)
    return found


def _status(body: dict[str, Any]) -> int:
    text = str(body["meta"].get("httpStatus") or "400")
    return int(text.split()[0]) if text.split()[0].isdigit() else 400


class TestErrors:
    def test_it_sorts_statuses_into_the_taxonomy(self) -> None:
        expected = {
            401: client.QualtricsAuthError,
            403: client.QualtricsAuthError,
            404: client.QualtricsNotFound,
            429: client.QualtricsRateLimited,
            500: client.QualtricsUnavailable,
            503: client.QualtricsUnavailable,
            400: client.QualtricsError,
        }
        for status, kind in expected.items():
            response = httpx.Response(status, request=httpx.Request("GET", "https://x.qualtrics.com/"))
            assert type(client.QualtricsError.from_response(response)) is kind

    def test_it_retries_a_500_and_then_succeeds(self) -> None:
        calls = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            return httpx.Response(500) if len(calls) < 3 else ok({"brandId": "b", "userId": "UR_1"})

        assert client.whoami(account(handler)).brand_id == "b"
        assert len(calls) == 3

    def test_it_does_not_retry_a_401(self) -> None:
        calls = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            return httpx.Response(401, json={"meta": {"error": {"errorMessage": "Bad token", "errorCode": "AUTH_1"}}})

        with pytest.raises(client.QualtricsAuthError) as caught:
            client.whoami(account(handler))
        assert len(calls) == 1
        assert caught.value.message == "Bad token"
        assert caught.value.code == "AUTH_1"

    def test_it_honours_retry_after(self) -> None:
        error = client.QualtricsRateLimited("slow down", retry_after=7)
        assert client.is_retryable(error) == 7
        assert client.is_retryable(client.QualtricsRateLimited("slow down", retry_after=None)) is True
        assert client.is_retryable(client.QualtricsRateLimited("slow down", retry_after=3600)) is False
        assert client.is_retryable(client.QualtricsNotFound("gone")) is False

    def test_a_network_failure_is_unavailable(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused")

        with pytest.raises(client.QualtricsUnavailable):
            client.whoami(account(handler))


class TestNotYetAvailable:
    def test_a_single_response_answered_202_is_transient_not_a_bad_payload(self) -> None:
        calls = []

        def handler(request: httpx.Request) -> httpx.Response:
            calls.append(request)
            # Qualtrics' own spec for GET /surveys/{surveyId}/responses/{responseId} (REFERENCE §13).
            body = {
                "result": {"message": "The Survey Response is not yet available. Please try again later."},
                "meta": {"httpStatus": "202 - Accepted", "requestId": "r"},
            }
            return httpx.Response(202, json=body)

        with pytest.raises(client.QualtricsNotReady) as caught:
            client.get_response(account(handler), "SV_1", "R_1")
        assert caught.value.message == "The Survey Response is not yet available. Please try again later."
        assert caught.value.permanent is False
        assert not isinstance(caught.value, client.UnexpectedPayload)
        # Not retried on the spot: it may take minutes, so callers try again later.
        assert len(calls) == 1

    def test_a_202_without_a_message_still_says_what_it_means(self) -> None:
        with pytest.raises(client.QualtricsNotReady, match="not available yet"):
            client.get_response(account(lambda r: httpx.Response(202)), "SV_1", "R_1")

    def test_the_response_arrives_once_it_is_available(self) -> None:
        answers = [httpx.Response(202), ok({"responseId": "R_1", "values": {"QID1": 1}})]
        a = account(lambda r: answers.pop(0))
        with pytest.raises(client.QualtricsNotReady):
            client.get_response(a, "SV_1", "R_1")
        assert client.get_response(a, "SV_1", "R_1").values == {"QID1": 1}


class _CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Qualtrics' servers offer
    peers: ClassVar[list[tuple[str, int]]] = []

    def do_GET(self) -> None:
        self.peers.append(self.client_address)
        body = json.dumps({"result": {"brandId": "b", "userId": "UR_1"}, "meta": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class TestOneHttpClientPerAccount:
    @pytest.fixture
    def server(self) -> Any:
        _CountingHandler.peers = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()
        server.server_close()

    def test_calls_on_one_account_reuse_one_connection_until_it_is_closed(self, server: Any) -> None:
        host = f"127.0.0.1:{server.server_address[1]}"
        with override_settings(MUSTER_QUALTRICS_ALLOWED_HOSTS=[host]):
            with client.Account(base_url=f"http://{host}", token=Secret(TOKEN)) as a:
                for _ in range(3):
                    client.whoami(a)
            assert len(_CountingHandler.peers) == 3
            assert len(set(_CountingHandler.peers)) == 1, _CountingHandler.peers
            # Closed on leaving the block: a later call opens a new connection.
            client.whoami(a)
            a.close()
        assert len(set(_CountingHandler.peers)) == 2


class TestAllowedHosts:
    def test_the_wildcard_covers_qualtrics_datacenters_over_https_only(self) -> None:
        patterns = ["*.qualtrics.com", "127.0.0.1:8100"]
        assert client.host_allowed("https://iad1.qualtrics.com/API/v3/whoami", patterns)
        assert client.host_allowed("https://brand.co1.qualtrics.com/", patterns)
        assert client.host_allowed("http://127.0.0.1:8100/API/v3/", patterns)
        assert not client.host_allowed("http://iad1.qualtrics.com/", patterns)
        assert not client.host_allowed("https://qualtrics.com.evil.org/", patterns)
        assert not client.host_allowed("https://evilqualtrics.com/", patterns)
        assert not client.host_allowed("https://user:pw@iad1.qualtrics.com/", patterns)
        assert not client.host_allowed("http://127.0.0.1:8101/", patterns)

    def test_no_token_goes_to_a_base_url_outside_the_list(self) -> None:
        sent: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return ok({})

        with pytest.raises(client.HostNotAllowed):
            client.whoami(account(handler, base="https://evil.example.org"))
        assert sent == []

    def test_no_token_follows_a_next_page_to_another_host(self) -> None:
        sent: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return ok({"elements": [], "nextPage": "https://evil.qualtrics.com.attacker.org/API/v3/surveys?offset=100"})

        with pytest.raises(client.HostNotAllowed):
            client.list_surveys(account(handler))
        assert [r.url.host for r in sent] == ["iad1.qualtrics.com"]

    def test_a_next_page_on_another_allowed_host_is_refused_too(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            return ok({"elements": [], "nextPage": "https://fra1.qualtrics.com/API/v3/surveys?offset=100"})

        with pytest.raises(client.HostNotAllowed, match="nextPage"):
            client.list_surveys(account(handler))

    def test_it_follows_next_pages_on_the_same_host(self) -> None:
        pages = {
            "/API/v3/surveys": ok(
                {"elements": [{"id": "SV_1", "name": "a"}], "nextPage": "https://iad1.qualtrics.com/API/v3/surveys?o=1"}
            ),
            "/API/v3/surveys?o=1": ok({"elements": [{"id": "SV_2", "name": "b"}], "nextPage": None}),
        }

        def handler(request: httpx.Request) -> httpx.Response:
            return pages[request.url.raw_path.decode()]

        assert [s.id for s in client.list_surveys(account(handler))] == ["SV_1", "SV_2"]

    def test_a_notice_naming_another_host_is_read(self) -> None:
        a = account(
            lambda r: ok(
                {"brandId": "b", "userId": "u"},
                notice="Request proxied. For faster response times, use this host instead: az1.qualtrics.com",
            )
        )
        client.whoami(a)
        assert client.notice_host(a) == "az1.qualtrics.com"

    def test_datacenter_ids_and_account_urls_become_base_urls(self) -> None:
        assert client.base_url_for("iad1") == "https://iad1.qualtrics.com"
        assert (
            client.base_url_for("https://Brand.co1.qualtrics.com/Q/MyProjectsSection")
            == "https://brand.co1.qualtrics.com"
        )
        assert client.base_url_for("brand.co1.qualtrics.com") == "https://brand.co1.qualtrics.com"


class TestBudget(BaseTestCase):
    def test_calls_beyond_the_budget_wait_for_the_next_minute(self) -> None:
        at = now().replace(second=10, microsecond=0)
        for _ in range(3):
            self.assertEqual(budget.try_spend("k", 3, at), 0.0)
        self.assertEqual(budget.try_spend("k", 3, at), 50.0)
        self.assertEqual(budget.try_spend("k", 3, at + timedelta(minutes=1)), 0.0)
        self.assertEqual(budget.try_spend("other", 3, at), 0.0)

    @override_settings(MUSTER_QUALTRICS_CALLS_PER_MINUTE=1)
    def test_a_spent_budget_is_a_rate_limit(self) -> None:
        spend = budget.spender("k2", max_wait=0)
        spend()
        with self.assertRaises(client.QualtricsRateLimited):
            spend()
