"""A person takes the demo screener in Chromium and lands on Muster's return URL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qualtrics_sandbox.testing import SandboxServer

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Set SANDBOX_SCREENSHOTS=DIR to keep a PNG of every page.
SHOTS = os.environ.get("SANDBOX_SCREENSHOTS")


class ReturnPage:
    """Stands in for Muster's /q/return/ page and remembers what it was called with."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                page.paths.append(self.path)
                body = b"<!doctype html><title>Muster</title><h1>Thanks, back in Muster</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def muster() -> Iterator[ReturnPage]:
    page = ReturnPage()
    yield page
    page.close()


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_a_participant_takes_the_demo_screener_and_returns_to_muster(muster: ReturnPage) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with SandboxServer(seed="demo", muster_url=muster.url) as sandbox:
        token = httpx.get(f"{sandbox.url}/_sandbox/brands/demobrand").json()["adminToken"]
        with httpx.Client(base_url=f"{sandbox.url}/API/v3", headers={"X-API-TOKEN": token}) as api:
            surveys = api.get("/surveys").json()["result"]["elements"]
            [survey_id] = [s["id"] for s in surveys if s["name"] == "Muster demo screener"]
            with sync_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
                try:
                    page = browser.new_page(viewport={"width": 900, "height": 800})
                    page.goto(f"{sandbox.url}/jfe/form/{survey_id}?rallyParticipantId=P-7QX2&notDeclared=1")
                    _shot(page, "01-first-page")
                    page.get_by_role("button", name="Next").click()
                    assert page.get_by_role("alert").is_visible()
                    _shot(page, "02-forced-response")
                    page.get_by_label("Every month").check()
                    page.get_by_role("button", name="Next").click()
                    page.get_by_label("Phone").check()
                    page.get_by_label("Other, please specify", exact=True).check()
                    page.get_by_label("Other, please specify: please specify").fill("Smartwatch")
                    _shot(page, "03-multi-with-other")
                    page.get_by_role("button", name="Next").click()
                    page.get_by_label("Which region do you live in?").select_option(label="South")
                    page.get_by_role("button", name="Next").click()
                    page.get_by_label("What is your job title?").fill("Researcher")
                    page.get_by_role("button", name="Next").click()
                    page.get_by_label("Describe your last online shopping experience.").fill("Quick and easy.")
                    page.get_by_role("button", name="Next").click()
                    for field, value in (("Adults", "2"), ("Children", "1"), ("Pets", "0")):
                        page.get_by_label(field).fill(value)
                    _shot(page, "04-form")
                    page.get_by_role("button", name="Next").click()
                    page.get_by_label("Delivery is fast").fill("7")
                    _shot(page, "05-slider")
                    page.get_by_role("button", name="Next").click()
                    page.get_by_label("Price").select_option("2")
                    page.get_by_label("Speed").select_option("1")
                    _shot(page, "06-rank")
                    page.get_by_role("button", name="Next").click()
                    page.get_by_label("8", exact=True).check()
                    _shot(page, "07-nps")
                    page.get_by_role("button", name="Next").click()
                    for row, column in (("The app", "Satisfied"), ("The website", "Neutral")):
                        page.get_by_label(f"{row}: {column}").check()
                    page.get_by_label("Customer service: Very satisfied").check()
                    _shot(page, "08-matrix")
                    page.get_by_role("button", name="Next").click()
                    # Drill Down: choosing a country refreshes the page with its regions, and so on.
                    page.get_by_label("Country").select_option(label="Germany")
                    page.get_by_label("Region").select_option(label="Bavaria")
                    page.get_by_label("City").select_option(label="Nuremberg")
                    _shot(page, "09-drill-down")
                    page.get_by_role("button", name="Submit").click()
                    page.wait_for_url(f"{muster.url}/q/return/**")
                    _shot(page, "10-back-in-muster")
                finally:
                    browser.close()
            [path] = [p for p in muster.paths if p.startswith("/q/return/")]
            query = parse_qs(urlsplit(path).query)
            [response_id], [participant] = query["rid"], query["pid"]
            assert response_id.startswith("R_") and participant == "P-7QX2"
            values = api.get(f"/surveys/{survey_id}/responses/{response_id}").json()["result"]["values"]
    assert values["rallyParticipantId"] == "P-7QX2" and "notDeclared" not in values
    assert values["QID1"] == 3 and values["QID2"] == ["1", "4"] and values["QID2_4_TEXT"] == "Smartwatch"
    assert values["QID3"] == 2 and values["QID4_TEXT"] == "Researcher" and values["QID6_1"] == "2"
    assert values["QID7_1"] == 7 and [values[f"QID8_{i}"] for i in range(1, 5)] == [2, 1, 3, 4]
    assert values["QID9"] == 8 and values["QID9_NPS_GROUP"] == 2
    assert [values["QID10_1"], values["QID10_2"], values["QID10_3"]] == [4, 3, 5]
    assert [values["QID12_1"], values["QID12_2"], values["QID12_3"]] == [1, 5, 7]
    assert values["finished"] == 1 and values["distributionChannel"] == "anonymous"
