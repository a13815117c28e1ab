"""The webhook under gunicorn, as deployed: HTTP framing that Django's test client never produces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from muster.integrations.qualtrics.webhook import MAX_BODY, sign
from muster.running import RunningMuster

KEY = "a-shared-key-only-muster-and-qualtrics-know"
CONNECT = f"""
from muster.crypto import Secret
from muster.integrations.qualtrics.models import QualtricsConnection
c = QualtricsConnection(base_url="https://iad1.qualtrics.com", brand_id="b", service_user_id="U", service_username="m")
c.token = Secret("service-token")
c.shared_key = Secret({KEY!r})
c.save()
"""


@pytest.fixture(scope="module")
def muster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningMuster, str]]:
    running = RunningMuster(tmp_path_factory.mktemp("muster"))
    running.setup()
    running.shell(CONNECT)
    with running.serve() as url:
        yield running, url


def chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    # An iterator body: httpx sends it chunked, with no Content-Length.
    for start in range(0, len(body), size):
        yield body[start : start + size]


def event_body(response_id: str, padding: str = "") -> bytes:
    msg = json.dumps({"Status": "Complete", "SurveyID": "SV_1", "ResponseID": response_id, "Padding": padding})
    topic = "b.surveyengine.completedResponse.SV_1"
    return urlencode({"Topic": topic, "MSG": msg, "HMAC": sign(msg, KEY)}).encode()


def post_chunked(url: str, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client() as client:
        webhook = f"{url}/integrations/qualtrics/webhook/"
        request = client.build_request("POST", webhook, content=chunks(body), headers=headers)
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
        return client.send(request)


def recorded(running: RunningMuster) -> list[str]:
    code = "import json; from muster.integrations.qualtrics.models import WebhookEvent as E; "
    code += "print(json.dumps(list(E.objects.values_list('response_id', flat=True))))"
    return list(json.loads(running.shell(code).strip().splitlines()[-1]))


def test_a_chunked_event_without_content_length_is_read(muster: tuple[RunningMuster, str]) -> None:
    running, url = muster
    r = post_chunked(url, event_body("R_chunked", padding="x" * 5000))
    assert r.status_code == 200, r.text
    assert "R_chunked" in recorded(running)


def test_a_chunked_body_over_the_cap_is_refused(muster: tuple[RunningMuster, str]) -> None:
    running, url = muster
    r = post_chunked(url, event_body("R_too_big", padding="x" * MAX_BODY))
    assert r.status_code == 413, r.text
    assert "R_too_big" not in recorded(running)


def test_a_non_ascii_hmac_is_refused_without_a_traceback(muster: tuple[RunningMuster, str]) -> None:
    _, url = muster
    fields = {"Topic": "b.surveyengine.completedResponse.SV_1", "MSG": '{"ResponseID": "R_1"}', "HMAC": "é" * 128}
    r = httpx.post(f"{url}/integrations/qualtrics/webhook/", data=fields)
    assert r.status_code == 403
    assert r.json() == {"message": "The HMAC does not match."}
