"""Real Qualtrics payloads from ../shared/qualtrics/recorded/ (they are never copied into the repo).

On a developer's machine a test that needs them is skipped when the folder is missing; under
`CI=true` it fails instead, so CI can never pass by skipping the contract tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[4]


def _main_checkout(repo: Path) -> Path:
    """The main checkout: in a git worktree `.git` is a file naming `<main>/.git/worktrees/<name>`."""
    marker = repo / ".git"
    if marker.is_file():
        text = marker.read_text().strip()
        if text.startswith("gitdir:"):
            gitdir = Path(text.removeprefix("gitdir:").strip())
            if gitdir.parent.name == "worktrees":
                return gitdir.parents[2]
    return repo


# Beside the repository; a worktree looks beside its main checkout.
RECORDED = _main_checkout(REPO).parent / "shared" / "qualtrics" / "recorded"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def recorded_path(name: str, folder: Path = RECORDED) -> Path:
    path = folder / name
    if not path.exists():
        message = f"The recorded Qualtrics payload {name} is not in {folder}"
        if in_ci():
            pytest.fail(f"{message}; under CI=true a contract test fails rather than skips.", pytrace=False)
        pytest.skip(message)
    return path


def recorded_json(name: str) -> Any:
    return json.loads(recorded_path(name).read_text())
