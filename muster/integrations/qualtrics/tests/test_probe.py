from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from unittest import mock

import httpx
from django.core.management import CommandError, call_command

from muster.crypto import Secret
from muster.integrations.qualtrics import client, probe
from muster.integrations.qualtrics.probe import Probe, redact
from muster.integrations.qualtrics.tests.sandbox import SandboxTestCase


class Probing(SandboxTestCase):
    def probe(self, out: Path, token: str) -> str:
        stdout = io.StringIO()
        with mock.patch.dict(os.environ, {"QUALTRICS_API_TOKEN": token}):
            try:
                call_command("qualtrics_probe", "--base-url", self.sandbox.url, "--out", str(out), stdout=stdout)
            except CommandError as e:
                stdout.write(f"\nCommandError: {e}")
        return stdout.getvalue()


class ProbeTestCase(Probing):
    def test_it_checks_every_call_and_saves_redacted_payloads(self) -> None:
        survey = self.add_survey()
        self.control(
            "POST",
            f"/_sandbox/surveys/{survey}/respond",
            {"values": {"QID1": 2, "QID2_TEXT": "pat@example.org"}, "embeddedData": {}, "finished": True},
        )
        out = Path(self.enterContext(__import__("tempfile").TemporaryDirectory()))
        report = self.probe(out, self.brand["adminToken"])
        self.assertNotIn("FAIL", report, report)
        for name in ("whoami", "survey list", "one definition", "a 10-response export", "one single response"):
            self.assertIn(f"ok   {name}", report)
        saved = {p.name for p in out.iterdir()}
        self.assertLessEqual(
            {"whoami.json", "surveys.json", "survey-definition.json", "export-10.json", "single-response.json"}, saved
        )
        everything = "".join(p.read_text() for p in out.iterdir() if p.is_file())
        self.assertNotIn("pat@example.org", everything)
        self.assertNotIn(self.brand["adminToken"], everything)
        single = json.loads((out / "single-response.json").read_text())
        self.assertEqual(single["result"]["values"]["QID1"], 2)

    def test_a_step_that_breaks_unexpectedly_is_reported_and_the_others_still_run(self) -> None:
        survey = self.add_survey()
        self.control("POST", f"/_sandbox/surveys/{survey}/respond", {"values": {"QID1": 1}, "finished": True})
        out = Path(self.enterContext(__import__("tempfile").TemporaryDirectory()))
        with mock.patch("muster.integrations.qualtrics.probe.zipfile") as broken:
            broken.ZipFile.side_effect = zipfile.BadZipFile("File is not a zip file")
            report = self.probe(out, self.brand["adminToken"])
        self.assertIn("FAIL a 10-response export: unexpected BadZipFile: File is not a zip file", report)
        for name in ("whoami", "survey list", "one definition"):
            self.assertIn(f"ok   {name}", report)
        self.assertIn("FAIL one single response", report)
        self.assertIn("CommandError: 2 step(s) failed", report)

    def test_it_reports_a_refused_token_and_fails(self) -> None:
        out = Path(self.enterContext(__import__("tempfile").TemporaryDirectory()))
        report = self.probe(out, "not-a-token")
        self.assertIn("FAIL whoami", report)
        self.assertIn("CommandError", report)


def test_redaction_keeps_shapes_and_drops_personal_values() -> None:
    data = {"values": {"recipientEmail": "a@b.c", "ipAddress": "1.2.3.4", "QID1": 3, "QID2_TEXT": "hi", "QID5_1": 7}}
    assert redact(data) == {
        "values": {
            "recipientEmail": "REDACTED",
            "ipAddress": "REDACTED",
            "QID1": 3,
            "QID2_TEXT": "REDACTED",
            "QID5_1": 0,
        }
    }


class NotReadyAtFirst(httpx.BaseTransport):
    """The sandbox over HTTP, except that a single-response GET answers 202 the first `times` times.

    The sandbox keeps a response that is not yet available out of exports too, so the response
    the probe fetches singly (one it just exported) is always available there. Whether real
    Qualtrics can still answer 202 for an exported response is not known; the probe waits it out
    in case, and this puts exactly that answer in its way."""

    def __init__(self, times: int) -> None:
        self.real = httpx.HTTPTransport()
        self.left = times
        self.answered_202 = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "/responses/R_" in request.url.path and self.left:
            self.left -= 1
            self.answered_202 += 1
            message = "The Survey Response is not yet available. Please try again later."
            return httpx.Response(202, json={"result": {"message": message}, "meta": {"httpStatus": "202 - Accepted"}})
        return self.real.handle_request(request)

    def close(self) -> None:
        self.real.close()


class NotYetAvailableProbeTestCase(Probing):
    def setUp(self) -> None:
        super().setUp()
        survey = self.add_survey()
        self.control("POST", f"/_sandbox/surveys/{survey}/respond", {"values": {"QID1": 2}, "finished": True})
        self.out = Path(self.enterContext(__import__("tempfile").TemporaryDirectory()))

    def run_probe(self, transport: httpx.BaseTransport) -> dict[str, probe.Step]:
        token = Secret(self.brand["adminToken"])
        with client.Account(base_url=self.sandbox.url, token=token, transport=transport) as account:
            return {step.name: step for step in Probe(account, self.out).run()}

    def test_it_waits_out_a_single_response_that_is_not_yet_available(self) -> None:
        transport = NotReadyAtFirst(times=2)
        with mock.patch.object(probe, "POLL_SECONDS", 0.05):
            steps = self.run_probe(transport)
        self.assertEqual(transport.answered_202, 2)
        self.assertTrue(steps["one single response"].ok, steps["one single response"].detail)
        single = json.loads((self.out / "single-response.json").read_text())
        self.assertEqual(single["result"]["values"]["QID1"], 2)

    def test_a_response_that_never_becomes_available_fails_that_step_only(self) -> None:
        with mock.patch.object(probe, "POLL_SECONDS", 0.05), mock.patch.object(probe, "NOT_READY_TIMEOUT", 0.2):
            steps = self.run_probe(NotReadyAtFirst(times=1000))
        self.assertFalse(steps["one single response"].ok)
        self.assertIn("not yet available", steps["one single response"].detail)
        self.assertTrue(all(step.ok for name, step in steps.items() if name != "one single response"), steps)


class SlowExportProbeTestCase(Probing):
    # Real exports take seconds: the probe polls several times and keeps the progress id.
    sandbox_options = {"export_seconds": 6}

    def test_it_waits_for_an_export_slower_than_one_poll(self) -> None:
        survey = self.add_survey()
        self.control("POST", f"/_sandbox/surveys/{survey}/respond", {"values": {"QID1": 2}, "finished": True})
        out = Path(self.enterContext(__import__("tempfile").TemporaryDirectory()))
        report = self.probe(out, self.brand["adminToken"])
        self.assertNotIn("FAIL", report, report)
        self.assertIn("ok   a 10-response export: 1 responses", report)
        self.assertIn("ok   one single response", report)
