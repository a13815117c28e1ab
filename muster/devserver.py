"""`make run`: Muster's web app, one db_worker, the scheduler and the Qualtrics sandbox together.

Ctrl-C (or SIGTERM) stops them all. Every process reads the same settings and data directory.
Ports: PORT (Muster, default 8000) and MUSTER_SANDBOX_PORT (the sandbox, default 8100); when one
is taken, it says which variable to set instead of starting half the processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def port_from(variable: str, default: str) -> int:
    value = os.environ.get(variable, default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"{variable}={value!r} is not a port number (1-65535).")
    return int(value)


def in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def busy_port_message(ports: list[tuple[str, int, str]]) -> str | None:
    """Says which variable to set when a port Muster needs is taken, before anything starts."""
    for variable, port, what in ports:
        if in_use(port):
            return (
                f"Port {port} ({what}) is already in use on 127.0.0.1. Stop whatever uses it, or choose "
                f"another port: {variable}=<free port> make run"
            )
    return None


def main() -> int:
    web_port = port_from("PORT", "8000")
    sandbox_port = port_from("MUSTER_SANDBOX_PORT", "8100")
    with_sandbox = find_spec("qualtrics_sandbox") is not None
    ports = [("PORT", web_port, "Muster's web app")]
    if with_sandbox:
        ports.append(("MUSTER_SANDBOX_PORT", sandbox_port, "the Qualtrics sandbox"))
    message = busy_port_message(ports)
    if message:
        print(message, file=sys.stderr, flush=True)
        return 2
    env = dict(os.environ)
    data_dir = Path(env.setdefault("MUSTER_DATA_DIR", str(ROOT / "data")))
    sandbox_host = f"127.0.0.1:{sandbox_port}"
    public_url = env.setdefault("MUSTER_PUBLIC_URL", f"http://127.0.0.1:{web_port}")
    env.setdefault("MUSTER_QUALTRICS_ALLOWED_HOSTS", f"*.qualtrics.com,{sandbox_host}")
    python = sys.executable
    commands: list[tuple[str, list[str]]] = [
        (
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "muster.wsgi",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
        ),
        ("worker", [python, "manage.py", "db_worker"]),
        ("scheduler", [python, "manage.py", "scheduler"]),
    ]
    if with_sandbox:
        commands.append(
            (
                "sandbox",
                [
                    python,
                    "-m",
                    "qualtrics_sandbox",
                    "--port",
                    str(sandbox_port),
                    "--data",
                    str(data_dir / "sandbox"),
                    "--seed",
                    "demo",
                    "--muster-url",
                    public_url,
                ],
            )
        )
    processes = [(name, subprocess.Popen(cmd, cwd=ROOT, env=env)) for name, cmd in commands]
    print(f"\n  Muster is starting on {public_url}  (Ctrl-C stops everything)\n", flush=True)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while True:
            for name, process in processes:
                if process.poll() is not None:
                    print(f"{name} exited with {process.returncode}; stopping the others.", flush=True)
                    exit_code = process.returncode or 1
                    raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for _, process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for _, process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
