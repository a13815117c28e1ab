from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from muster.scheduling import jobs

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Runs periodic jobs. Safe to run several at once: each due job is claimed by one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--idle-seconds", type=float, default=2.0, help="Sleep between empty polls.")
        parser.add_argument("--once", action="store_true", help="Run what is due now, then exit.")

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("Scheduler got signal %s, finishing the current job", signum)
        self.shutdown = True

    def process_one(self) -> bool:
        """Claims and runs one due job. Returns True when it found work."""
        job = jobs.claim_due_job()
        if job is None:
            return False
        jobs.run_job(job)
        return True

    def handle(self, *args: Any, **options: Any) -> None:
        self.shutdown = False
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        jobs.ensure_rows()
        self.stdout.write("Scheduler started.")
        while not self.shutdown:
            close_old_connections()
            try:
                found = self.process_one()
            except Exception:
                # Crash-loop guard: a database hiccup must not kill the loop; wait and retry.
                logger.exception("Scheduler step failed")
                found = False
            if options["once"] and not found:
                break
            if not found:
                deadline = time.monotonic() + options["idle_seconds"]
                while not self.shutdown and time.monotonic() < deadline:
                    time.sleep(0.1)
        self.stdout.write("Scheduler stopped.")
