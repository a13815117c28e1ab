"""Creating a study and changing its details (name, kind, limit, landing page): the rules pages and
the API share."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from muster.accounts.models import User
from muster.studies.models import Study, StudyKind

FIELDS = ("name", "kind", "participation_limit", "landing_slug", "landing_text")
SLUG = re.compile(r"[a-z0-9-]{1,80}")


class Invalid(Exception):
    """A refused detail; the message says why and `field` names the detail, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def create_study(user: User | None, **details: Any) -> Study:
    """A new draft study; `name` and `landing_slug` are required, the other FIELDS optional."""
    study = Study(created_by=user)
    _apply(study, details)
    _save(study, None)
    return study


def update_study(study: Study, **changes: Any) -> Study:
    """Changes the given FIELDS only; the participants' seats and the status are never written here
    (they move by conditional updates elsewhere), so a concurrent add or status change is kept."""
    _apply(study, changes)
    _save(study, list(changes))
    return study


def _apply(study: Study, details: dict[str, Any]) -> None:
    unknown = set(details) - set(FIELDS)
    if unknown:
        raise ValueError(f"Not a study detail: {', '.join(sorted(unknown))}")
    for name in ("name", "landing_text"):
        if name in details:
            details[name] = (details[name] or "").strip()
    if "name" in details and not details["name"]:
        raise Invalid("Give the study a name.", "name")
    if "kind" in details and details["kind"] not in StudyKind.values:
        raise Invalid(f"“{details['kind']}” is not a kind of study.", "kind")
    if "landing_slug" in details and not SLUG.fullmatch(details["landing_slug"] or ""):
        raise Invalid("Use lowercase letters, digits and hyphens for the landing page address.", "landing_slug")
    limit = details.get("participation_limit")
    if limit is not None and limit < 0:
        raise Invalid("The limit cannot be negative.", "participation_limit")
    if limit is not None and limit < study.seats_taken:
        raise Invalid(_too_low(study.seats_taken), "participation_limit")
    for name, value in details.items():
        setattr(study, name, value)


def _save(study: Study, fields: list[str] | None) -> None:
    try:
        with transaction.atomic():
            study.save(update_fields=fields)
    except IntegrityError:
        if Study.objects.filter(landing_slug=study.landing_slug).exclude(id=study.id).exists():
            raise Invalid("Another study uses this landing page address.", "landing_slug") from None
        # Otherwise the limit check constraint: people were added since the study was read.
        seats = Study.objects.filter(id=study.id).values_list("seats_taken", flat=True).first() or 0
        raise Invalid(_too_low(seats), "participation_limit") from None


def _too_low(seats: int) -> str:
    return f"{seats} people already take part: the limit cannot be lower."
