from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, model_validator


class Error(Schema):
    message: str


class Me(Schema):
    code: UUID
    email: str
    name: str
    role: str
    capabilities: list[str]


class Input(Schema):
    """Base of every request body: a JSON object, nothing else; unknown fields are an error.

    (Ninja's Schema would otherwise read attributes off anything, so `[null, null]` passed for an
    all-optional body.)"""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def must_be_an_object(cls, data: Any, handler: Any) -> Any:
        if not isinstance(data, dict) and not isinstance(data, cls):
            raise ValueError("The body must be a JSON object.")
        if _holds_nul(data):
            # No column holds one (PostgreSQL refuses it): say so, as Django's form fields do.
            raise ValueError("The body holds a NUL character (\\u0000), which no value can hold.")
        return handler(data)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _not_bool_or_text(value: Any) -> Any:
    # JSON's true and "3" are not numbers; 3.0 is (JSON Schema counts it as an integer).
    if isinstance(value, bool | str):
        raise ValueError("Input should be a number")
    return value


def _only_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("Input should be true or false")
    return value


JsonInt = Annotated[int, BeforeValidator(_not_bool_or_text)]
JsonBool = Annotated[bool, BeforeValidator(_only_bool)]
