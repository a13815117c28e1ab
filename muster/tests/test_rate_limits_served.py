"""Rate limits hold across processes: two web servers share one budget (the database cache)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from django_ratelimit.core import _get_window

from muster.running import RunningMuster

FORGED_PID = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def client_with_time_left(seconds: float) -> tuple[httpx.Client, str]:
    """A client on a loopback address whose one-minute window has `seconds` left or more.

    Limits count in fixed windows, each address with its own offset; requests that straddle two
    windows are counted half in each. So this test picks an address whose window holds them all.
    """
    for n in range(2, 255):
        address = f"127.0.0.{n}"
        if _get_window(address, 60) - time.time() >= seconds:
            return httpx.Client(transport=httpx.HTTPTransport(local_address=address)), address
    raise AssertionError("no loopback address has a window with that much time left")


def test_two_web_servers_share_one_budget(tmp_path: Path) -> None:
    muster = RunningMuster(tmp_path, env={"MUSTER_API_CALLS_PER_MINUTE": "10"})
    muster.setup()
    with muster.serve() as first, muster.serve() as second:
        client, address = client_with_time_left(45)
        window = _get_window(address, 60)
        for n in range(60):
            r = client.get(f"{(first, second)[n % 2]}/q/return/", params={"rid": "R_1", "pid": FORGED_PID})
            assert r.status_code == 200, n
        for url in (first, second):
            r = client.get(f"{url}/q/return/", params={"rid": "R_1", "pid": FORGED_PID})
            assert r.status_code == 429
            assert 1 <= int(r.headers["Retry-After"]) <= 60
        for n in range(10):
            r = client.get(f"{(first, second)[n % 2]}/api/v1/me", headers={"Authorization": "Bearer guess"})
            assert r.status_code == 401, n
        r = client.get(f"{second}/api/v1/me", headers={"Authorization": "Bearer guess"})
        assert r.status_code == 429
        assert "Retry-After" in r.headers
        assert _get_window(address, 60) == window, "the requests took longer than 45 s"
