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
        return handler(data)


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
