"""`make run` on a busy port says which variable to set, and starts nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def devserver(tmp_path: Path, **ports: int | str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_") and k != "PORT"}
    env.update({"MUSTER_DATA_DIR": str(tmp_path), **{k: str(v) for k, v in ports.items()}})
    # Were the check to miss, the processes it started would hold the timeout's whole length.
    return subprocess.run(
        [sys.executable, "-m", "muster.devserver"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )


def test_a_busy_web_port_names_port(tmp_path: Path, busy_port: int) -> None:
    result = devserver(tmp_path, PORT=busy_port, MUSTER_SANDBOX_PORT=free_port())
    assert result.returncode == 2
    assert f"Port {busy_port} (Muster's web app) is already in use" in result.stderr
    assert "PORT=<free port> make run" in result.stderr
    assert "starting" not in result.stdout


def test_a_busy_sandbox_port_names_muster_sandbox_port(tmp_path: Path, busy_port: int) -> None:
    result = devserver(tmp_path, PORT=free_port(), MUSTER_SANDBOX_PORT=busy_port)
    assert result.returncode == 2
    assert "MUSTER_SANDBOX_PORT=<free port> make run" in result.stderr


def test_a_port_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    result = devserver(tmp_path, PORT="eighty")
    assert result.returncode != 0
    assert "PORT='eighty' is not a port number" in result.stderr


@pytest.mark.slow
def test_make_run_ends_with_next_steps_once_everything_answers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_") and k not in ("PORT", "DATABASE_URL")}
    env["MUSTER_DATA_DIR"] = str(tmp_path)
    for step in (["migrate", "--noinput"], ["load_demo"]):
        subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True, capture_output=True)
    web, sandbox = free_port(), free_port()
    env.update(PORT=str(web), MUSTER_SANDBOX_PORT=str(sandbox))
    process = subprocess.Popen(
        [sys.executable, "-m", "muster.devserver"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        for line in process.stdout:
            seen.append(line)
            if line.strip().startswith("Web access log:"):
                break
        text = "".join(seen)
        block = text[text.index("Next steps") :]
        password = (tmp_path / "demo_admin_password").read_text().strip()
        assert f"Open http://127.0.0.1:{web}" in block
        assert f"admin@demo.muster.test  /  {password}" in block
        assert str(tmp_path / "mail") in block
        token = next(
            v
            for k, v in (s.split("=", 1) for s in text.splitlines() if "=" in s)
            if k == "QUALTRICS_SANDBOX_ADMIN_TOKEN"
        )
        assert f"Brand Administrator API token:  {token}" in block
        assert f"http://127.0.0.1:{sandbox}" in block
        # Printed once the web app answers: signing in works at the URL it names.
        assert httpx.get(f"http://127.0.0.1:{web}/sign-in/", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
