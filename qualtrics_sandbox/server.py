"""Starting and stopping a sandbox: state, webhook worker and a threaded HTTP server."""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from .app import create_app
from .context import Sandbox
from .exports import Exports
from .faults import Faults
from .sessions import SessionCloser
from .store import Store
from .webhooks import WebhookSettings, WebhookWorker


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8100
    data_dir: Path | None = None
    public_url: str | None = None
    datacenter: str = "sandbox1"
    muster_url: str | None = None
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    # Shortest time an export takes, so clients meet `inProgress` (Qualtrics takes seconds).
    export_seconds: float = 1.0
    # Close abandoned /jfe sessions as partials after this many seconds (None: the survey's setting).
    partial_seconds: float | None = None
    response_delay_seconds: float = 0.0
    calls_per_minute: int | None = None
    max_concurrent: int | None = None
    textiq: bool = False


class RunningSandbox:
    """A sandbox bound to a port; `serve_forever()` in the foreground or `start()` in a thread."""

    def __init__(self, options: Options) -> None:
        store_path = None
        if options.data_dir is not None:
            options.data_dir.mkdir(parents=True, exist_ok=True)
            store_path = options.data_dir / "sandbox.sqlite3"
        self.store = Store(store_path)
        self.faults = Faults()
        self.worker = WebhookWorker(self.store, options.webhooks, self.faults)
        self._temp: Path | None = None
        if options.data_dir is not None:
            export_dir = options.data_dir / "exports"
            export_dir.mkdir(exist_ok=True)
        else:
            export_dir = self._temp = Path(tempfile.mkdtemp(prefix="qualtrics-sandbox-exports-"))
        self.exports = Exports(self.store, export_dir, self.faults, options.export_seconds)
        # Placeholder URL until the port is known (port 0 picks a free one).
        self.sandbox = Sandbox(
            self.store,
            self.worker,
            self.exports,
            self.faults,
            public_url="",
            datacenter=options.datacenter,
            muster_url=options.muster_url,
            partial_seconds=options.partial_seconds,
            response_delay_seconds=options.response_delay_seconds,
            calls_per_minute=options.calls_per_minute,
            max_concurrent=options.max_concurrent,
            textiq=options.textiq,
        )
        self.closer = SessionCloser(self.sandbox)
        self.app = create_app(self.sandbox)
        self.http: BaseWSGIServer = make_server(options.host, options.port, self.app, threaded=True)
        port = self.http.server_port
        self.sandbox.public_url = (options.public_url or f"http://{options.host}:{port}").rstrip("/")
        self.app.config["SANDBOX_HOME_HOST"] = self.sandbox.home_host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.http.server_port)

    def start(self) -> None:
        self.worker.start()
        self.closer.start()
        self._thread = threading.Thread(target=self.http.serve_forever, name="sandbox-http", daemon=True)
        self._thread.start()

    def serve_forever(self) -> None:
        self.worker.start()
        self.closer.start()
        try:
            self.http.serve_forever()
        finally:
            self.close()

    def stop(self) -> None:
        self.http.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close()

    def close(self) -> None:
        self.closer.stop()
        self.worker.stop()
        self.exports.join()
        self.http.server_close()
        self.store.close()
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)
