"""`make run`: Muster's web app, one db_worker, the scheduler and the Qualtrics sandbox together.

Ctrl-C (or SIGTERM) stops them all. Every process reads the same settings and data directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_PORT = int(os.environ.get("MUSTER_SANDBOX_PORT", "8100"))
WEB_PORT = int(os.environ.get("PORT", "8000"))


def main() -> int:
    env = dict(os.environ)
    data_dir = Path(env.setdefault("MUSTER_DATA_DIR", str(ROOT / "data")))
    sandbox_host = f"127.0.0.1:{SANDBOX_PORT}"
    public_url = env.setdefault("MUSTER_PUBLIC_URL", f"http://127.0.0.1:{WEB_PORT}")
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
                f"127.0.0.1:{WEB_PORT}",
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
    if find_spec("qualtrics_sandbox") is not None:
        commands.append(
            (
                "sandbox",
                [
                    python,
                    "-m",
                    "qualtrics_sandbox",
                    "--port",
                    str(SANDBOX_PORT),
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
