"""Faults on demand (`PUT /_sandbox/faults`): failing, slow or dropped calls, unruly webhooks,
failed exports and refused continuation tokens. Kept in memory; a restart clears them."""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

ENDPOINT_KEYS = {"method", "path", "error500", "error503", "rateLimit", "retryAfter", "latencyMs", "dropConnection"}
ENDPOINT_KEYS |= {"times"}
WEBHOOK_KEYS = {"drop", "duplicate", "delayMs", "reorder", "reorderWindowMs"}


class FaultConfigError(ValueError):
    """The faults document is malformed."""


@dataclass
class Outcome:
    """What to do to one request: wait, then maybe fail or drop it."""

    latency: float = 0.0
    status: int | None = None
    retry_after: int = 0
    drop: bool = False


def _probability(spec: JSON, key: str, where: str) -> float:
    value = spec.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultConfigError(f"{where}.{key} must be a probability between 0 and 1")
    return float(value)


def _non_negative(spec: JSON, key: str, where: str, default: float = 0) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultConfigError(f"{where}.{key} must be a number ≥ 0")
    return float(value)


def _optional(spec: JSON, key: str, where: str, whole: bool = False) -> float | int | None:
    """null (the default) leaves the server's command-line setting in force."""
    value = spec.get(key)
    if value is None:
        return None
    kind = "a whole number" if whole else "a number"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (whole and not isinstance(value, int))
    ):
        raise FaultConfigError(f"{where}.{key} must be {kind} ≥ 0 or null")
    return value


def _check_keys(spec: Any, allowed: set[str], where: str) -> JSON:
    if not isinstance(spec, dict):
        raise FaultConfigError(f"{where} must be an object")
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise FaultConfigError(f"{where}: unknown keys {unknown}")
    return spec


def normalise(config: Any) -> JSON:
    """Validate a faults document and fill in defaults (the answer to PUT and GET)."""
    sections = {"seed", "endpoints", "webhooks", "exports", "continuationTokens", "responses", "rateLimits"}
    config = _check_keys(config, sections, "faults")
    endpoints = config.get("endpoints", [])
    if not isinstance(endpoints, list):
        raise FaultConfigError("endpoints must be a list")
    rules: list[JSON] = []
    for i, raw in enumerate(endpoints):
        where = f"endpoints[{i}]"
        spec = _check_keys(raw, ENDPOINT_KEYS, where)
        if not isinstance(spec.get("path", "*"), str):
            raise FaultConfigError(f"{where}.path must be a glob string")
        times = spec.get("times")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
            raise FaultConfigError(f"{where}.times must be a whole number or null")
        rule = {
            "method": str(spec.get("method", "*")).upper(),
            "path": spec.get("path", "*"),
            "error500": _probability(spec, "error500", where),
            "error503": _probability(spec, "error503", where),
            "rateLimit": _probability(spec, "rateLimit", where),
            "retryAfter": int(_non_negative(spec, "retryAfter", where, 1)),
            "latencyMs": _non_negative(spec, "latencyMs", where),
            "dropConnection": _probability(spec, "dropConnection", where),
            "times": times,
        }
        if rule["error500"] + rule["error503"] + rule["rateLimit"] + rule["dropConnection"] > 1:
            raise FaultConfigError(f"{where}: the probabilities add up to more than 1")
        rules.append(rule)
    hooks = _check_keys(config.get("webhooks", {}), WEBHOOK_KEYS, "webhooks")
    exports = _check_keys(config.get("exports", {}), {"fail"}, "exports")
    tokens = _check_keys(config.get("continuationTokens", {}), {"refuse"}, "continuationTokens")
    responses = _check_keys(config.get("responses", {}), {"notYetAvailableSeconds"}, "responses")
    limits = _check_keys(config.get("rateLimits", {}), {"callsPerMinute", "maxConcurrent"}, "rateLimits")
    seed = config.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise FaultConfigError("seed must be an integer or null")
    return {
        "seed": seed,
        "endpoints": rules,
        "webhooks": {
            "drop": _probability(hooks, "drop", "webhooks"),
            "duplicate": _probability(hooks, "duplicate", "webhooks"),
            "delayMs": _non_negative(hooks, "delayMs", "webhooks"),
            "reorder": bool(hooks.get("reorder", False)),
            "reorderWindowMs": _non_negative(hooks, "reorderWindowMs", "webhooks", 300),
        },
        "exports": {"fail": _probability(exports, "fail", "exports")},
        "continuationTokens": {"refuse": _probability(tokens, "refuse", "continuationTokens")},
        "responses": {"notYetAvailableSeconds": _optional(responses, "notYetAvailableSeconds", "responses")},
        "rateLimits": {
            "callsPerMinute": _optional(limits, "callsPerMinute", "rateLimits", whole=True),
            "maxConcurrent": _optional(limits, "maxConcurrent", "rateLimits", whole=True),
        },
    }


@dataclass
class Faults:
    config: JSON = field(default_factory=lambda: normalise({}))
    rng: random.Random = field(default_factory=random.Random)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, config: Any) -> JSON:
        checked = normalise(config)
        with self.lock:
            self.config = checked
            self.rng = random.Random(checked["seed"])
        return checked

    def clear(self) -> JSON:
        return self.set({})

    def snapshot(self) -> JSON:
        with self.lock:
            return {**self.config, "endpoints": [dict(r) for r in self.config["endpoints"]]}

    def chance(self, probability: float) -> bool:
        if probability <= 0:
            return False
        with self.lock:
            return self.rng.random() < probability

    def for_request(self, method: str, path: str) -> Outcome:
        """Roll the first rule that matches this call; `times` counts the calls it still applies to."""
        with self.lock:
            for rule in self.config["endpoints"]:
                if rule["method"] not in ("*", method) or not fnmatch.fnmatchcase(path, rule["path"]):
                    continue
                if rule["times"] is not None:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                outcome = Outcome(latency=rule["latencyMs"] / 1000)
                roll = self.rng.random()
                for key, status in (("dropConnection", None), ("error500", 500), ("error503", 503), ("rateLimit", 429)):
                    if roll < rule[key]:
                        outcome.drop = status is None
                        outcome.status = status
                        outcome.retry_after = rule["retryAfter"]
                        break
                    roll -= rule[key]
                return outcome
        return Outcome()

    @property
    def webhooks(self) -> JSON:
        with self.lock:
            return dict(self.config["webhooks"])

    def export_fails(self) -> bool:
        return self.chance(self.config["exports"]["fail"])

    def token_refused(self) -> bool:
        return self.chance(self.config["continuationTokens"]["refuse"])

    def setting(self, section: str, key: str) -> Any:
        with self.lock:
            return self.config[section][key]
