"""`SandboxServer`: a real sandbox on a free loopback port, for any test suite.

with SandboxServer() as sandbox:
    brand = httpx.post(f"{sandbox.url}/_sandbox/brands", json={}).json()
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from .seed import seed_demo
from .server import Options, RunningSandbox
from .webhooks import WebhookSettings


class SandboxServer:
    def __init__(
        self,
        data_dir: Path | None = None,
        public_url: str | None = None,
        webhook_retry_seconds: float = 0.2,
        webhook_max_attempts: int = 8,
        muster_url: str | None = None,
        datacenter: str = "sandbox1",
        export_seconds: float = 0.2,
        partial_seconds: float | None = None,
        seed: str | None = None,
        response_delay_seconds: float = 0.0,
        calls_per_minute: int | None = None,
        max_concurrent: int | None = None,
        textiq: bool = False,
    ) -> None:
        self.seed = seed
        self.options = Options(
            host="127.0.0.1",
            port=0,
            data_dir=data_dir,
            public_url=public_url,
            datacenter=datacenter,
            muster_url=muster_url,
            webhooks=WebhookSettings(retry_seconds=webhook_retry_seconds, max_attempts=webhook_max_attempts),
            export_seconds=export_seconds,
            partial_seconds=partial_seconds,
            response_delay_seconds=response_delay_seconds,
            calls_per_minute=calls_per_minute,
            max_concurrent=max_concurrent,
            textiq=textiq,
        )
        self._running: RunningSandbox | None = None

    @property
    def url(self) -> str:
        """Where the server listens, e.g. `http://127.0.0.1:54321` (not the public URL)."""
        if self._running is None:
            raise RuntimeError("SandboxServer is not running")
        return f"http://127.0.0.1:{self._running.port}"

    @property
    def port(self) -> int:
        if self._running is None:
            raise RuntimeError("SandboxServer is not running")
        return self._running.port

    def __enter__(self) -> SandboxServer:
        self._running = RunningSandbox(self.options)
        if self.seed == "demo":
            seed_demo(self._running.store, self.options.datacenter, self.options.muster_url)
        self._running.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None
