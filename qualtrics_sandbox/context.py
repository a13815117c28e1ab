"""The running sandbox's state, reachable from request handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from flask import current_app

from .store import Store
from .webhooks import WebhookWorker


@dataclass
class Sandbox:
    store: Store
    worker: WebhookWorker
    public_url: str
    datacenter: str = "sandbox1"
    muster_url: str | None = None

    @property
    def home_host(self) -> str:
        return urlsplit(self.public_url).netloc


def current_sandbox() -> Sandbox:
    return cast(Sandbox, current_app.extensions["qualtrics_sandbox"])
