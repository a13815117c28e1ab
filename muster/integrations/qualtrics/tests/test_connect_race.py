"""Connect is single-flight across processes: two connects, each in its own `manage.py` process
on one database, the second started while Qualtrics is slowly answering the first one's whoami."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from muster.running import local_postgres_database
from qualtrics_sandbox.testing import SandboxServer

ROOT = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.slow

CONNECT = """
import time
import httpx
from muster.crypto import Secret
from muster.integrations.qualtrics import connect
# The second connect waits until the sandbox holds the first one's whoami (its slow rule is used up).
while {wait} and httpx.get({faults!r}).json()["endpoints"][0]["times"] > 0:
    time.sleep(0.01)
try:
    outcome = connect.connect(
        base_url={url!r}, brand_admin_token=Secret({token!r}), user_type={user_type!r}, by=None
    )
except connect.ConnectError as e:
    print("REFUSED", type(e).__name__, e)
else:
    print("CONNECTED", outcome.connection.pk)
"""

STORED = """
import json
from muster.integrations.qualtrics.models import QualtricsConnection
print("ROWS", json.dumps([[c.status, c.subscription_id, c.token.value] for c in QualtricsConnection.objects.all()]))
"""


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The embedded default (a SQLite file), then a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    with local_postgres_database("muster_connect_race") as url:
        yield url


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


def environment(data_dir: Path, database_url: str | None, sandbox: SandboxServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_") and k != "DATABASE_URL"}
    env.update(
        {
            "MUSTER_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "muster.settings",
            "MUSTER_QUALTRICS_ALLOWED_HOSTS": f"*.qualtrics.com,{urlsplit(sandbox.url).netloc}",
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def shell(env: dict[str, str], code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    out = process.communicate(timeout=180)[0]
    assert process.returncode == 0, out
    return out


def v3(sandbox: SandboxServer, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
    headers = {"X-API-TOKEN": token}
    return httpx.request(method, f"{sandbox.url}/API/v3/{path}", json=body, headers=headers, timeout=30)


def test_two_connects_at_once_make_one_connection_and_the_second_is_refused(
    tmp_path: Path, database_url: str | None, sandbox: SandboxServer
) -> None:
    env = environment(tmp_path, database_url, sandbox)
    migrate = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    brand = httpx.post(f"{sandbox.url}/_sandbox/brands", json={}, timeout=10).json()
    # A slow whoami keeps the first connect busy while the second one starts.
    faults = {"endpoints": [{"method": "GET", "path": "/API/v3/whoami", "latencyMs": 4000, "times": 1}]}
    httpx.put(f"{sandbox.url}/_sandbox/faults", json=faults, timeout=10).raise_for_status()
    code = {
        "url": sandbox.url,
        "token": brand["adminToken"],
        "user_type": brand["userTypes"]["standard"],
        "faults": f"{sandbox.url}/_sandbox/faults",
    }
    first = shell(env, CONNECT.format(wait=False, **code))
    second = shell(env, CONNECT.format(wait=True, **code))
    outputs = [finish(first), finish(second)]

    assert "CONNECTED" in outputs[0], outputs
    assert "REFUSED ConnectInProgress" in outputs[1], outputs
    assert "in progress" in outputs[1], outputs
    [[status, subscription_id, token]] = json.loads(finish(shell(env, STORED)).split("ROWS", 1)[1])
    assert status == "connected"
    # Qualtrics holds exactly what Muster stored: one subscription, and the stored token works.
    subscriptions = v3(sandbox, "GET", "eventsubscriptions", brand["adminToken"]).json()["result"]["elements"]
    assert [s["id"] for s in subscriptions] == [subscription_id]
    assert v3(sandbox, "GET", "whoami", token).status_code == 200
