"""Roles and capabilities (DESIGN §5.2): the one module every view and API route asks."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from muster.accounts.models import User


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    OPS_MANAGER = "ops_manager", "Ops Manager"
    RESEARCHER = "researcher", "Researcher"
    DEVELOPER = "developer", "Developer"
    OBSERVER = "observer", "Observer"


class Capability(enum.StrEnum):
    VIEW = "view people, studies, panels, responses"
    VIEW_PII = "view PII (unmasked), filter on PII properties"
    MANAGE_PEOPLE = "manage people and property values, import/export"
    MANAGE_PROPERTIES = "manage property definitions"
    CREATE_PROPERTY_FROM_MAPPING = "create a property from a mapping"
    MANAGE_STUDIES = "manage studies: attach surveys, map, invite, qualify"
    MANAGE_PANELS = "manage panels and sign-up review"
    MANAGE_INTEGRATIONS = "manage integrations (connect, disconnect, repair)"
    USE_INTEGRATIONS = "use integrations (survey picker, sync now)"
    APPROVE_INCENTIVES = "approve and send incentives"
    OVERRIDE_CONTACT_RULES = "override contact rules (with a reason)"
    MANAGE_USERS = "manage users and roles"
    OWN_API_TOKENS = "own API tokens"


_A, _O, _R, _D, _B = Role.ADMIN, Role.OPS_MANAGER, Role.RESEARCHER, Role.DEVELOPER, Role.OBSERVER

# The table of DESIGN §5.2, row by row.
CAPABILITIES: dict[Capability, frozenset[Role]] = {
    Capability.VIEW: frozenset({_A, _O, _R, _D, _B}),
    Capability.VIEW_PII: frozenset({_A, _O, _R}),
    Capability.MANAGE_PEOPLE: frozenset({_A, _O, _R}),
    Capability.MANAGE_PROPERTIES: frozenset({_A, _O}),
    Capability.CREATE_PROPERTY_FROM_MAPPING: frozenset({_A, _O, _R}),
    Capability.MANAGE_STUDIES: frozenset({_A, _O, _R}),
    Capability.MANAGE_PANELS: frozenset({_A, _O}),
    Capability.MANAGE_INTEGRATIONS: frozenset({_A, _O, _D}),
    Capability.USE_INTEGRATIONS: frozenset({_A, _O, _R, _D}),
    Capability.APPROVE_INCENTIVES: frozenset({_A, _O}),
    Capability.OVERRIDE_CONTACT_RULES: frozenset({_A, _O, _R}),
    Capability.MANAGE_USERS: frozenset({_A}),
    Capability.OWN_API_TOKENS: frozenset({_A, _O, _R, _D}),
}


def can(user: User | AnonymousUser | None, capability: Capability) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.role in CAPABILITIES[capability]  # type: ignore[union-attr]


def require(user: User | AnonymousUser | None, capability: Capability) -> None:
    """Raises PermissionDenied unless the user's role has the capability."""
    if not can(user, capability):
        raise PermissionDenied(f"Your role does not allow this: {capability.value}.")


def capabilities_of(user: User | AnonymousUser | None) -> set[Capability]:
    return {c for c in Capability if can(user, c)}
