"""Property definitions and their options (Settings → Properties)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError

from muster.people.models import (
    SELECT_TYPES,
    Property,
    PropertyOption,
    PropertyType,
    PropertyValue,
    PropertyValueChange,
)


class PropertyError(ValueError):
    pass


KEY = re.compile(r"[a-z0-9_-]{1,64}")


def key_from(label: str) -> str:
    """A key made from a label: "Signed up (date)" -> "signed_up_date"."""
    words = re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower())
    return "_".join(words)[:64].strip("_")


@transaction.atomic
def create_property(
    key: str, label: str, type: str, *, unique: bool = False, pii: bool = False, options: list[str] | None = None
) -> Property:
    """A new property; an empty key is made from the label."""
    key = key.strip() or key_from(label)
    if not label.strip():
        raise PropertyError("Give the property a label.")
    if not key:
        raise PropertyError("Give the property a key: its label has no letters or digits to make one from.")
    if not KEY.fullmatch(key):
        raise PropertyError(
            f"“{key}” cannot be a key: use up to 64 lowercase letters, digits, _ or -, such as “signed_up”."
        )
    if type not in PropertyType.values:
        raise PropertyError(f"“{type}” is not a property type.")
    if type in SELECT_TYPES and not options:
        raise PropertyError("A select property needs at least one option: give one per line.")
    if unique and type != PropertyType.TEXT:
        raise PropertyError("Only text properties can be unique.")
    if Property.objects.filter(key=key).exists():
        raise PropertyError(f"A property with the key “{key}” already exists.")
    if options and type not in SELECT_TYPES:
        raise PropertyError("Only select properties have options.")
    last = Property.objects.aggregate(m=Max("position"))["m"]
    prop = Property.objects.create(
        key=key, label=label.strip(), type=type, unique=unique, pii=pii, position=0 if last is None else last + 1
    )
    for label_ in options or []:
        add_option(prop, label_)
    return prop


@transaction.atomic
def update_property(prop: Property, **changes: Any) -> None:
    """Label, flags and position; the type and key never change."""
    if "label" in changes:
        if not changes["label"].strip():
            raise PropertyError("Give the property a label.")
        prop.label = changes["label"].strip()
    if "pii" in changes:
        prop.pii = changes["pii"]
    if "position" in changes:
        prop.position = changes["position"]
    if "unique" in changes and changes["unique"] != prop.unique:
        if changes["unique"] and prop.type != PropertyType.TEXT:
            raise PropertyError("Only text properties can be unique.")
        prop.unique = changes["unique"]
        try:
            with transaction.atomic():
                PropertyValue.objects.filter(property=prop).update(is_unique=prop.unique)
        except IntegrityError:
            raise PropertyError(f"Some people share a value of {prop.label}: it cannot be unique yet.") from None
    prop.save()


def add_option(prop: Property, label: str) -> PropertyOption:
    if prop.type not in SELECT_TYPES:
        raise PropertyError("Only select properties have options.")
    label = label.strip()
    if not label:
        raise PropertyError("Give the option a label.")
    if prop.options.filter(label__iexact=label).exists():
        raise PropertyError(f"{prop.label} already has the option “{label}”.")
    last = prop.options.aggregate(m=Max("position"))["m"]
    return PropertyOption.objects.create(property=prop, label=label, position=0 if last is None else last + 1)


@transaction.atomic
def update_option(option: PropertyOption, **changes: Any) -> None:
    if "label" in changes:
        label = changes["label"].strip()
        if not label:
            raise PropertyError("Give the option a label.")
        if option.property.options.filter(label__iexact=label).exclude(id=option.id).exists():
            raise PropertyError(f"{option.property.label} already has the option “{label}”.")
        option.label = label
    if "retired" in changes:
        option.retired = changes["retired"]
    if "position" in changes:
        # Moving an option renumbers its siblings so positions stay 0..n-1.
        siblings = [o for o in option.property.options.exclude(id=option.id)]
        siblings.insert(min(changes["position"], len(siblings)), option)
        for i, o in enumerate(siblings):
            if o.position != i:
                o.position = i
                if o.id != option.id:
                    o.save(update_fields=["position"])
    option.save()


def what_deleting_removes(prop: Property) -> dict[str, int]:
    """What goes with the property: its values, their history and its options, counted."""
    return {
        "values": PropertyValue.objects.filter(property=prop).count(),
        "history entries": PropertyValueChange.objects.filter(property=prop).count(),
        "options": prop.options.count(),
    }


def depends_on(error: ProtectedError) -> str:
    """What protects a row from deletion (e.g. survey mappings, defined by apps above `people`), in words."""
    # Rows of `people` itself (a value using an option) go with the property; name only the others.
    names = sorted({str(o) for o in error.protected_objects if o._meta.app_label != "people"})
    shown = "; ".join(names[:5]) + (f"; and {len(names) - 5} more" if len(names) > 5 else "")
    return shown


@transaction.atomic
def delete_property(prop: Property) -> dict[str, int]:
    """Deletes the property with its values, history and options; PropertyError, deleting nothing,
    when something depends on it (a survey mapping writes to it)."""
    removed = what_deleting_removes(prop)
    try:
        with transaction.atomic():
            # Values first: a value protects the option it holds, and options go with the property.
            PropertyValue.objects.filter(property=prop).delete()
            prop.delete()
    except ProtectedError as e:
        raise PropertyError(
            f"{prop.label} cannot be deleted while something writes to it: {depends_on(e)}. "
            "Remove those mappings first."
        ) from None
    return removed
