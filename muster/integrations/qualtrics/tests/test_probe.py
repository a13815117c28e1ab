from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from unittest import mock

from django.core.management import CommandError, call_command

from muster.integrations.qualtrics.probe import redact
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
