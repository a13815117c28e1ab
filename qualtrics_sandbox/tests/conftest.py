from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qualtrics_sandbox.testing import SandboxServer

RECORDED = Path(__file__).resolve().parents[2].parent / "shared" / "qualtrics" / "recorded"


def missing(message: str) -> None:
    """Outside CI a missing recording skips with the reason; under CI=true it fails (BRIEF)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: contract tests must run)")
    pytest.skip(message)


def recorded(name: str) -> Any:
    """A recorded Qualtrics payload from ../shared/qualtrics/recorded (skips when absent, fails on CI)."""
    if not RECORDED.is_dir():
        missing(f"recorded Qualtrics payloads not found at {RECORDED}; contract tests need that folder")
    path = RECORDED / name
    if not path.exists():
        missing(f"recorded payload {name} not found in {RECORDED}")
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return path.read_text()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(webhook_retry_seconds=0.05) as server:
        yield server


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=10) as client:
        yield client


@pytest.fixture
def brand(control: httpx.Client) -> dict[str, Any]:
    reply = control.post("/brands", json={})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def api(sandbox: SandboxServer, token: str | None, host: str | None = None) -> httpx.Client:
    headers = {"X-API-TOKEN": token} if token else {}
    base = f"{sandbox.url}/API/v3" if host is None else f"http://{host}/API/v3"
    return httpx.Client(base_url=base, headers=headers, timeout=10)


@pytest.fixture
def admin(sandbox: SandboxServer, brand: dict[str, Any]) -> Iterator[httpx.Client]:
    with api(sandbox, brand["adminToken"]) as client:
        yield client


def make_user(admin: httpx.Client, brand: dict[str, Any], name: str, role: str = "standard") -> tuple[str, str]:
    """Create a user of the given role with a token; returns (user id, token)."""
    first, _, last = name.partition(" ")
    reply = admin.post(
        "/users",
        json={
            "username": f"{first.lower()}.{last.lower()}.{brand['brandId']}@example.org",
            "firstName": first,
            "lastName": last or "Tester",
            "userType": brand["userTypes"][role],
            "email": f"{first.lower()}@example.org",
            "password": "correct horse battery staple",
        },
    )
    assert reply.status_code == 200, reply.text
    user_id = reply.json()["result"]["id"]
    token = admin.post(f"/users/{user_id}/apitoken").json()["result"]["apiToken"]
    return user_id, token
