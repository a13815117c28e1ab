"""Identifiers shaped like Qualtrics' own (SV_ + 15 base62 characters, and so on)."""

from __future__ import annotations

import random
import secrets
import string
import uuid

ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, rng: random.Random | None = None) -> str:
    """`new_id("SV")` -> `SV_3gbwq8aJgqPwQDP`. Pass `rng` for reproducible seeds."""
    if rng is None:
        body = "".join(secrets.choice(ALPHABET) for _ in range(15))
    else:
        body = "".join(rng.choice(ALPHABET) for _ in range(15))
    return f"{prefix}_{body}"


def new_token(rng: random.Random | None = None) -> str:
    """A 40-character API token."""
    if rng is None:
        return "".join(secrets.choice(ALPHABET) for _ in range(40))
    return "".join(rng.choice(ALPHABET) for _ in range(40))


def new_request_id() -> str:
    return str(uuid.uuid4())
