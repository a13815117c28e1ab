"""`make run` on a busy port says which variable to set, and starts nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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
