"""Comparing the shape of a sandbox answer with a recorded Qualtrics payload."""

from __future__ import annotations

import re
from typing import Any

# Objects whose keys are ids (QID12, "3", BL_..., SV_...) are maps: each entry we
# produce must look like one of the recorded entries, keys need not coincide.
ID_KEY = re.compile(r"^(QID\d+|\d+|[A-Z]{2,3}_[A-Za-z0-9]+)$")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def _is_map(value: dict[str, Any], map_paths: set[str], path: str) -> bool:
    return path in map_paths or (bool(value) and all(ID_KEY.match(k) for k in value))


def _same_type(recorded: list[Any], item: Any) -> list[Any]:
    """Flow-like lists mix element kinds; compare an element with recorded ones of its type."""
    if isinstance(item, dict):
        for key in ("type", "Type"):
            if key in item:
                return [r for r in recorded if isinstance(r, dict) and r.get(key) == item[key]]
    return recorded


def problems(recorded: Any, actual: Any, path: str = "$", map_paths: frozenset[str] = frozenset()) -> list[str]:
    """Empty when `actual` has every key of `recorded` with a compatible JSON type."""
    if recorded is None:
        return []
    # Qualtrics itself sends null for unset scalars (subSelector, questionLabel).
    if actual is None and _kind(recorded) in ("string", "number", "bool"):
        return []
    if _kind(recorded) != _kind(actual):
        return [f"{path}: recorded {_kind(recorded)}, got {_kind(actual)}"]
    if isinstance(recorded, dict):
        if _is_map(recorded, set(map_paths), path):
            if not actual:
                return [] if not recorded else [f"{path}: recorded a non-empty map, got an empty one"]
            found: list[str] = []
            for key, value in actual.items():
                attempts = [problems(r, value, f"{path}.{key}", map_paths) for r in recorded.values()]
                if all(attempts):
                    found.append(f"{path}.{key}: matches no recorded entry ({min(attempts, key=len)[0]})")
            return found
        found = []
        for key, value in recorded.items():
            if key not in actual:
                found.append(f"{path}: missing key {key!r}")
            else:
                found.extend(problems(value, actual[key], f"{path}.{key}", map_paths))
        return found
    if isinstance(recorded, list) and recorded and actual:
        found = []
        for i, item in enumerate(actual):
            candidates = _same_type(recorded, item)
            if not candidates:
                continue  # a kind of element the recording does not show
            attempts = [problems(r, item, f"{path}[{i}]", map_paths) for r in candidates]
            if all(attempts):
                found.append(f"{path}[{i}]: matches no recorded element ({min(attempts, key=len)[0]})")
        return found
    return []


def assert_same_shape(recorded: Any, actual: Any, map_paths: frozenset[str] = frozenset()) -> None:
    found = problems(recorded, actual, "$", map_paths)
    assert not found, "\n".join(found[:20])
