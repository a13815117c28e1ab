"""Collections: 100 elements a page and a full `nextPage` URL (or null)."""

from __future__ import annotations

from typing import Any

from flask import request

from .context import current_sandbox
from .envelope import bad_request

PAGE_SIZE = 100


def offset() -> int:
    raw = request.args.get("offset", "0")
    if not raw.isdigit():
        raise bad_request("Invalid offset parameter.", "GP_0")
    return int(raw)


def page(elements: list[Any], start: int) -> dict[str, Any]:
    """`elements` holds up to PAGE_SIZE + 1 rows; the extra one only says there is more."""
    next_page = None
    if len(elements) > PAGE_SIZE:
        path = request.path.rstrip("/")
        next_page = f"{current_sandbox().public_url}{path}?offset={start + PAGE_SIZE}"
    return {"elements": elements[:PAGE_SIZE], "nextPage": next_page}
