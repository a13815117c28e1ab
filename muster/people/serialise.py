"""The one serialisation layer for people data (DESIGN §5.2).

Pages, the API, CSV exports, value history and error text all turn values into text or JSON
here, and this is where PII is masked for roles without the VIEW_PII capability. Names and
emails are always PII; a property is PII when its `pii` flag is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.utils.formats import date_format

from muster.accounts.roles import Capability, can
from muster.people.models import ImportRejection, Person, Property, PropertyType, PropertyValueChange
from muster.people.values import Json

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from muster.accounts.models import User

MASK = "••••••"


@dataclass(frozen=True)
class Viewer:
    pii: bool

    @classmethod
    def of(cls, user: User | AnonymousUser | None) -> Viewer:
        return cls(pii=can(user, Capability.VIEW_PII))

    def masks(self, prop: Property) -> bool:
        return prop.pii and not self.pii


def shown(viewer: Viewer, pii: bool, text: str) -> str:
    return MASK if pii and text and not viewer.pii else text


def as_text(prop: Property, value: Json) -> str:
    """A JSON value as plain text (pages and CSV): multi-select joined by semicolons."""
    if value is None:
        return ""
    if prop.type == PropertyType.BOOLEAN:
        return "yes" if value else "no"
    if prop.type == PropertyType.MULTI_SELECT:
        return "; ".join(value)
    return str(value)


def value_text(viewer: Viewer, prop: Property, value: Json) -> str:
    return shown(viewer, prop.pii, as_text(prop, value))


def value_on_page(viewer: Viewer, prop: Property, value: Json) -> str:
    """As `value_text`, with a date in the pages' one human format (CSV and the API keep ISO 8601)."""
    if prop.type == PropertyType.DATE and isinstance(value, str) and not viewer.masks(prop):
        try:
            return date_format(date.fromisoformat(value), "DATE_FORMAT")
        except ValueError:
            pass
    return value_text(viewer, prop, value)


def value_json(viewer: Viewer, prop: Property, value: Json) -> Json:
    if value is not None and viewer.masks(prop):
        return MASK
    return value


def name(viewer: Viewer, person: Person) -> str:
    return shown(viewer, True, person.name)


def email(viewer: Viewer, address: str) -> str:
    return shown(viewer, True, address)


def person_json(
    viewer: Viewer, person: Person, properties: list[Property], values: dict[tuple[int, int], Json]
) -> dict[str, Any]:
    return {
        "code": person.code,
        "first_name": shown(viewer, True, person.first_name),
        "last_name": shown(viewer, True, person.last_name),
        "email": email(viewer, person.primary_email),
        "other_emails": [email(viewer, e.email) for e in person.emails.all() if not e.is_primary],
        "opted_out": person.opted_out,
        "source": person.source,
        "created": person.created,
        "properties": {
            p.key: value_json(viewer, p, values[(person.id, p.id)]) for p in properties if (person.id, p.id) in values
        },
    }


def change_json(viewer: Viewer, change: PropertyValueChange) -> dict[str, Any]:
    prop = change.property
    return {
        "property": prop.key,
        "old": value_json(viewer, prop, change.old),
        "new": value_json(viewer, prop, change.new),
        "source": change.source,
        "source_code": change.source_code,
        "changed_by": change.changed_by.email if change.changed_by else None,
        "at": change.at,
    }


def change_row(viewer: Viewer, change: PropertyValueChange) -> dict[str, Any]:
    prop = change.property
    return {
        "property": prop,
        "old": value_on_page(viewer, prop, change.old),
        "new": value_on_page(viewer, prop, change.new),
        "source": change.get_source_display(),
        "source_code": change.source_code,
        "changed_by": change.changed_by.display_name if change.changed_by else "",
        "at": change.at,
    }


def rejection_row(viewer: Viewer, rejection: ImportRejection) -> dict[str, Any]:
    # A value rejected for an unknown property or a bad email is treated as PII: it may be one.
    pii = rejection.property.pii if rejection.property else rejection.column != ""
    return {
        "row": rejection.row,
        "email": email(viewer, rejection.email),
        "column": rejection.column,
        "value": shown(viewer, pii, rejection.value),
        "reason": rejection.reason,
        # What a select property takes, so the file can be fixed without looking it up.
        "options": [o.label for o in prop.options.all() if not o.retired]
        if (prop := rejection.property) and prop.is_select
        else [],
    }


def error_text(viewer: Viewer, prop: Property, given: Any, reason: str) -> str:
    """An error message about a value: “<value>” <reason>, with the value masked as needed."""
    if isinstance(given, list):
        given = ", ".join(map(str, given))
    text = given if isinstance(given, str) else str(given)
    return f"“{shown(viewer, prop.pii, text)}” {reason}"


def short_code(person: Person) -> str:
    """The start of the person's random code: nothing personal, so masked lists show it to tell rows apart.

    Eight hex digits can repeat across a large list; the profile shows the whole code.
    """
    return person.code.hex[:8]
