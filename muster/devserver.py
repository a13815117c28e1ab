"""`make run`: Muster's web app, one db_worker, the scheduler and the Qualtrics sandbox together.

Ctrl-C (or SIGTERM) stops them all. Every process reads the same settings and data directory.
Ports: PORT (Muster, default 8000) and MUSTER_SANDBOX_PORT (the sandbox, default 8100); when one
is taken, it says which variable to set instead of starting half the processes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# As muster.accounts.demo creates it (that module needs Django set up; this one runs without).
DEMO_ADMIN_EMAIL = "admin@demo.muster.test"


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


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)  # any HTTP answer means the server is up
    except httpx.HTTPError:
        return False
    return True


def wait_until_up(urls: list[str], processes: list[tuple[str, subprocess.Popen[bytes]]], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for _, p in processes):
            return False
        if all(answers(u) for u in urls):
            return True
        time.sleep(0.3)
    return False


def next_steps(public_url: str, data_dir: Path, sandbox_url: str | None) -> str:
    """What to do first, printed once everything answers (so it is not lost among start-up lines)."""
    password_file = data_dir / "demo_admin_password"
    password = password_file.read_text().strip() if password_file.exists() else "(run `make setup` to create it)"
    mail = os.environ.get("MUSTER_EMAIL_URL") or f"files in {data_dir / 'mail'}"
    lines = [
        "Next steps",
        f"  1. Open {public_url}",
        f"  2. Sign in as {DEMO_ADMIN_EMAIL}  /  {password}",
        f"  3. Email Muster sends (invitations, password links) lands in: {mail}",
    ]
    if sandbox_url is not None:
        lines += [
            "  4. Connect the Qualtrics sandbox: Settings -> Connected Apps -> Qualtrics -> Connect, with",
            *(f"       {line}" for line in sandbox_values(data_dir, sandbox_url)),
        ]
    lines += [f"  Web access log: {data_dir / 'access.log'}.  Ctrl-C stops everything."]
    rule = "=" * max(len(line) for line in lines)
    return "\n".join(["", rule, *lines, rule, ""])


def demo_values(data_dir: Path, sandbox_url: str) -> dict[str, str]:
    """KEY=VALUE of the sandbox's demo brand."""
    from qualtrics_sandbox.seed import demo_summary
    from qualtrics_sandbox.store import Store

    return dict(
        line.split("=", 1)
        for line in demo_summary(Store(data_dir / "sandbox" / "sandbox.sqlite3"), sandbox_url)
        if "=" in line and not line.startswith("#")
    )


def write_connect_values(path: Path, data_dir: Path, sandbox_url: str) -> None:
    found = demo_values(data_dir, sandbox_url)
    values = {
        "base_url": found["QUALTRICS_SANDBOX_URL"],
        "brand_admin_token": found["QUALTRICS_SANDBOX_ADMIN_TOKEN"],
        "user_type": found["QUALTRICS_SANDBOX_USER_TYPE_STANDARD"],
    }
    path.write_text(json.dumps(values))


def sandbox_values(data_dir: Path, sandbox_url: str) -> list[str]:
    """The values the Connect form asks for, read from the sandbox's demo brand."""
    found = demo_values(data_dir, sandbox_url)
    return [
        f"Datacenter or account URL:      {found['QUALTRICS_SANDBOX_URL']}",
        f"Brand Administrator API token:  {found['QUALTRICS_SANDBOX_ADMIN_TOKEN']}",
        f"User type for Muster's user:    {found['QUALTRICS_SANDBOX_USER_TYPE_STANDARD']}",
    ]


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
    demo_connect = data_dir / "sandbox" / "connect.json"
    if with_sandbox:
        # The Connect page offers these values (demo only): written once the sandbox has seeded.
        env["MUSTER_DEMO_CONNECT_FILE"] = str(demo_connect)
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
                # Kept out of the terminal, where it would bury the next steps.
                "--access-logfile",
                str(data_dir / "access.log"),
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
    sandbox_url = f"http://{sandbox_host}" if with_sandbox else None
    up = [f"http://127.0.0.1:{web_port}/sign-in/", *([f"{sandbox_url}/_sandbox/"] if sandbox_url else [])]

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        if wait_until_up(up, processes):
            if sandbox_url is not None:
                write_connect_values(demo_connect, data_dir, sandbox_url)
            print(next_steps(public_url, data_dir, sandbox_url), flush=True)
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
