"""The running sandbox's state, reachable from request handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from flask import current_app

from .exports import Exports
from .faults import Faults
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

    @property
    def home_host(self) -> str:
        return urlsplit(self.public_url).netloc


def current_sandbox() -> Sandbox:
    return cast(Sandbox, current_app.extensions["qualtrics_sandbox"])
