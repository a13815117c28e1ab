"""The running sandbox's state, reachable from request handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

from flask import current_app

from .exports import Exports
from .faults import Faults
from .ratelimit import RateLimiter
from .store import Store
from .webhooks import WebhookWorker


@dataclass
class Sandbox:
    store: Store
    worker: WebhookWorker
    exports: Exports
    faults: Faults
    public_url: str
    datacenter: str = "sandbox1"
    muster_url: str | None = None
    # None: each survey's own PartialData window (SurveyOptions), else this many seconds.
    partial_seconds: float | None = None
    # A just-recorded response answers 202 "not yet available" this long (--response-delay-seconds).
    response_delay_seconds: float = 0.0
    calls_per_minute: int | None = None
    max_concurrent: int | None = None
    # Add Text iQ analytics columns for text questions to exports (--textiq).
    textiq: bool = False
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def response_delay(self) -> float:
        """The faults document's `responses.notYetAvailableSeconds` wins over the command line."""
        override = self.faults.setting("responses", "notYetAvailableSeconds")
        return float(self.response_delay_seconds if override is None else override)

    def rate_limits(self) -> tuple[int | None, int | None]:
        per_minute = self.faults.setting("rateLimits", "callsPerMinute")
        concurrent = self.faults.setting("rateLimits", "maxConcurrent")
        return (
            self.calls_per_minute if per_minute is None else per_minute or None,
            self.max_concurrent if concurrent is None else concurrent or None,
        )

    @property
    def home_host(self) -> str:
        return urlsplit(self.public_url).netloc


def current_sandbox() -> Sandbox:
    return cast(Sandbox, current_app.extensions["qualtrics_sandbox"])
