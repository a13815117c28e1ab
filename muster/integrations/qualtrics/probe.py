"""`manage.py qualtrics_probe`: read-only calls against a real Qualtrics account that check each
payload against Muster's models and save redacted copies, so the first customer can check
Muster's assumptions in minutes."""

from __future__ import annotations

import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from muster.integrations.qualtrics import client
from muster.integrations.qualtrics.scrub import scrub

# Keys whose values identify people or accounts; their values never leave the probe unredacted.
SENSITIVE_KEY = re.compile(
    r"(email|ipaddress|latitude|longitude|name|token|password|externaldatareference|recipient|_text$|^qid\d+_\d+$|url)",
    re.IGNORECASE,
)
POLL_SECONDS = 2.0
EXPORT_TIMEOUT = 120.0
NOT_READY_TIMEOUT = 60.0
KEEP_KEYS = {"surveyname", "questiontype", "selector", "subselector", "datacenter", "brandbaseurl"}


def redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if key.lower() not in KEEP_KEYS and SENSITIVE_KEY.search(key) and isinstance(value, str | int | float):
        return "REDACTED" if isinstance(value, str) else 0
    return value


@dataclass
class Step:
    name: str
    ok: bool
    detail: str


class Probe:
    def __init__(self, account: client.Account, out: Path, survey_id: str | None = None) -> None:
        self.account = account
        self.out = out
        self.survey_id = survey_id
        self.steps: list[Step] = []

    def save(self, name: str, body: Any) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        text = orjson.dumps(redact(body), option=orjson.OPT_INDENT_2).decode()
        # The probe's one secret is its token; whatever Qualtrics echoed of it is cut out too.
        (self.out / name).write_text(scrub(text, self.account.token, held=False))

    def step(self, name: str, run: Callable[[], str]) -> bool:
        """Runs one step; any failure is reported as that step's and the probe goes on."""
        try:
            ok, detail = True, run()
        except client.QualtricsError as e:
            ok, detail = False, str(e)
        except Exception as e:
            # Whatever else breaks (a payload Muster did not expect, a bad zip, a full disk) is
            # exactly what the probe is there to find: say so and go on with the next step.
            ok, detail = False, f"unexpected {type(e).__name__}: {e}"
        self.steps.append(Step(name, ok, scrub(detail, self.account.token, held=False)))
        return ok

    def raw(self, path: str, json: Any = None, method: str = "GET") -> dict[str, Any]:
        return client.request(self.account, method, path, json=json)

    def run(self) -> list[Step]:
        response_ids: list[str] = []

        def whoami() -> str:
            body = self.raw("whoami")
            self.save("whoami.json", body)
            me = client.parse(client.WhoAmI, client.result(body), "whoami")
            return f"brand {me.brand_id}, account type {me.account_type or '?'}, datacenter {me.datacenter or '?'}"

        def surveys() -> str:
            body = self.raw("surveys")
            self.save("surveys.json", body)
            page = client.parse(client.Page, client.result(body), "survey list")
            parsed = [client.parse(client.SurveySummary, e, "survey") for e in page.elements]
            active = [s for s in parsed if s.is_active]
            if not self.survey_id and active:
                self.survey_id = active[0].id
            return f"{len(parsed)} surveys on the first page, {len(active)} active; next page: {bool(page.next_page)}"

        def definition() -> str:
            if not self.survey_id:
                raise client.QualtricsError("No active survey to read.")
            body = self.raw(f"survey-definitions/{self.survey_id}")
            self.save("survey-definition.json", body)
            d = client.parse(client.SurveyDefinition, client.result(body), "definition")
            kinds = sorted({f"{q.get('QuestionType')}/{q.get('Selector')}" for q in d.questions.values()})
            return f"{self.survey_id}: {len(d.questions)} questions ({', '.join(kinds)})"

        def export() -> str:
            if not self.survey_id:
                raise client.QualtricsError("No active survey to export.")
            started = client.start_export(self.account, self.survey_id, {"format": "json", "limit": 10})
            # Only the start names the progress id; the progress answers do not repeat it.
            progress_id = started.progress_id
            if not progress_id:
                raise client.UnexpectedPayload("The export started without a progressId.")
            progress = started
            deadline = time.monotonic() + EXPORT_TIMEOUT
            while progress.status not in ("complete", "failed"):
                if time.monotonic() > deadline:
                    raise client.QualtricsUnavailable(f"The export did not finish in {EXPORT_TIMEOUT:.0f} seconds.")
                time.sleep(POLL_SECONDS)
                progress = client.export_progress(self.account, self.survey_id, progress_id)
            if progress.status != "complete" or not progress.file_id:
                raise client.QualtricsError(f"The export ended {progress.status}.")
            path = client.download_export(self.account, self.survey_id, progress.file_id, self.out / "tmp")
            with zipfile.ZipFile(path) as z:
                member = z.namelist()[0]
                data = orjson.loads(z.read(member))
            path.unlink()
            self.save("export-10.json", data)
            responses = [client.parse(client.SingleResponse, r, "exported response") for r in data["responses"]]
            response_ids.extend(r.response_id for r in responses)
            return f"{len(responses)} responses in {member}"

        def single() -> str:
            if not response_ids:
                raise client.QualtricsError("The export held no response to fetch singly.")
            assert self.survey_id is not None
            path = f"surveys/{self.survey_id}/responses/{response_ids[0]}"
            deadline = time.monotonic() + NOT_READY_TIMEOUT
            while True:
                try:
                    body = self.raw(path)
                    break
                except client.QualtricsNotReady:
                    # 202 "not yet available" is transient (REFERENCE §13): ask again a little later.
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(POLL_SECONDS)
            self.save("single-response.json", body)
            r = client.parse(client.SingleResponse, client.result(body), "response")
            return f"{r.response_id}: {len(r.values)} values, {len(r.labels)} labels"

        for name, run in [
            ("whoami", whoami),
            ("survey list", surveys),
            ("one definition", definition),
            ("a 10-response export", export),
            ("one single response", single),
        ]:
            self.step(name, run)
        return self.steps
