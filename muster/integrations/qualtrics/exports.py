"""Response exports (REFERENCE §7.1, §13): start, poll politely, download the zip to a temp file,
then read its responses as a stream. Shared by the tool's latest responses (the dry run) and the
reconciliation export, so memory stays flat however large the export.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
from django.conf import settings

from muster.integrations.qualtrics import client

# Polls start quick (a small export is ready in a second) and slow down to one every POLL_MAX.
POLL_FIRST, POLL_MAX = 0.25, 2.0
# Refused below this much free space in the download folder: a full disk breaks more than an export.
MIN_FREE_BYTES = 200 * 1024 * 1024
# What reading an export file can raise when the file is cut short or not what it claims to be.
UNREADABLE = (ijson.JSONError, zipfile.BadZipFile, OSError, EOFError)


class ExportFailed(client.QualtricsUnavailable):
    """The export ended `failed`, or took longer than we wait: transient, try again later."""


class NotEnoughSpace(Exception):
    """The download folder has too little free space for an export."""


@dataclass(frozen=True)
class Downloaded:
    path: Path
    # Present when the request set allowContinuation or continuationToken (REFERENCE §13).
    continuation_token: str | None


def folder() -> Path:
    """Where exports are downloaded: the data dir (DESIGN §5.1), not the system's temp dir."""
    return Path(settings.DATA_DIR) / "exports"


@contextmanager
def temp_dir() -> Iterator[Path]:
    """A folder of its own under `folder()` for one export, removed with what it holds."""
    base = folder()
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="export-", dir=base) as name:
        yield Path(name)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def check_free_space(folder: Path, needed: int | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    needed = MIN_FREE_BYTES if needed is None else needed
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise NotEnoughSpace(
            f"Only {free // (1024 * 1024)} MB free in {folder}; an export needs at least {needed // (1024 * 1024)} MB."
        )


def run_export(
    account: client.Account,
    survey_id: str,
    options: dict[str, Any],
    folder: Path,
    timeout: float = 120.0,
    poll_max: float = POLL_MAX,
    on_poll: Callable[[], object] | None = None,
) -> Downloaded:
    """Starts an export, polls it until complete, downloads its file into `folder` (after a
    free-space check). Raises ExportFailed when it ends `failed` or outlasts `timeout`, and the
    client's errors otherwise. `on_poll` is called before each poll (a long-running caller renews
    its claim there)."""
    check_free_space(folder)
    started = client.start_export(account, survey_id, options)
    progress_id = started.progress_id
    if not progress_id:
        raise ExportFailed("Qualtrics started no export (it sent no progress id)")
    deadline = time.monotonic() + timeout
    wait = POLL_FIRST
    while True:
        if on_poll is not None:
            on_poll()
        progress = client.export_progress(account, survey_id, progress_id)
        if progress.status == "complete" and progress.file_id:
            path = client.download_export(account, survey_id, progress.file_id, folder)
            return Downloaded(path, progress.continuation_token)
        if progress.status not in ("inProgress", "complete"):
            raise ExportFailed(f"the export ended “{progress.status}”")
        if time.monotonic() > deadline:
            raise ExportFailed(f"the export was not ready after {timeout:.0f} s")
        _sleep(wait)
        wait = min(poll_max, wait * 2)


def elements(path: Path) -> Iterator[dict[str, Any]]:
    """The responses of a JSON export file, zipped (as Qualtrics sends it) or not, one at a time."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if not names:
                return
            with archive.open(names[0]) as member:
                yield from _items(member)
    else:
        with path.open("rb") as f:
            yield from _items(f)


def _items(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    for item in ijson.items(stream, "responses.item", use_float=True):
        if isinstance(item, dict):
            yield item
