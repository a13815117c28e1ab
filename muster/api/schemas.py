from __future__ import annotations

from uuid import UUID

from ninja import Schema


class Error(Schema):
    message: str


class Me(Schema):
    code: UUID
    email: str
    name: str
    role: str
    capabilities: list[str]
