from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from muster.crypto import Secret
from muster.integrations.qualtrics import client
from muster.integrations.qualtrics.probe import Probe


class Command(BaseCommand):
    help = (
        "Read-only check of a real Qualtrics account against Muster's assumptions. The token comes from "
        "QUALTRICS_API_TOKEN or is prompted for; redacted payloads are saved to --out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", required=True, help="Datacenter id (iad1) or account URL")
        parser.add_argument("--survey", help="Survey id to read (default: the first active one)")
        parser.add_argument("--out", help="Folder for the redacted payloads")

    def handle(self, *args: Any, **options: Any) -> None:
        raw = os.environ.get("QUALTRICS_API_TOKEN") or getpass.getpass("Qualtrics API token: ")
        if not raw:
            raise CommandError("No token given.")
        base_url = client.base_url_for(options["base_url"])
        if not client.host_allowed(base_url):
            raise CommandError(f"{base_url} is not in MUSTER_QUALTRICS_ALLOWED_HOSTS.")
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out = Path(options["out"] or f"qualtrics-probe-{stamp}")
        with client.Account(base_url=base_url, token=Secret(raw)) as account:
            steps = Probe(account, out, options["survey"]).run()
        failed = 0
        for step in steps:
            mark = "ok  " if step.ok else "FAIL"
            failed += not step.ok
            self.stdout.write(f"{mark} {step.name}: {step.detail}")
        self.stdout.write(f"Redacted payloads are in {out}/")
        if failed:
            raise CommandError(f"{failed} step(s) failed; see above.")
