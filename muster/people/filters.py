"""People list filters, shared by the page, the bulk actions, CSV export and the API.

The query string is the filter, so a filtered list can be linked, exported or acted on:

    name=<text>            first or last name contains
    email=<text>           any of the person's emails contains
    p.<key>=<text>         text property contains
    p.<key>=<option>       select property has any of the options (code or label; repeatable)
    p.<key>=yes|no         boolean property
    p.<key>.min=<v>        number or date property at least v (YYYY-MM-DD for dates)
    p.<key>.max=<v>        number or date property at most v
    p.<key>.is=empty|not_empty

Every filter becomes `id IN (SELECT person_id FROM …)` on an indexed column of one property;
filters combine with AND. Nothing is filtered in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value, Window
from django.db.models.functions import NullIf
from django.utils.http import urlencode

from muster.people.models import Person, PersonEmail, Property, PropertyType, PropertyValue
from muster.people.serialise import Viewer, shown
from muster.people.values import InvalidValue, parse

RESERVED = ("name", "email")


@dataclass
class Filter:
    param: str
    label: str
    prop: Property | None = None
    op: str = "contains"  # contains | any | eq | min | max | empty | not_empty
    value: Any = None
    given: list[str] = field(default_factory=list)


@dataclass
class Filters:
    items: list[Filter]
    errors: list[str]

    def apply(self, people: QuerySet[Person]) -> QuerySet[Person]:
        # A person has at most one value per property, so "≥ min" and "≤ max" on one property are
        # one subquery on one index range: the same people as two subqueries, at a fraction of the cost.
        ranges: dict[Property, dict[str, Any]] = {}
        for f in self.items:
            if f.prop is not None and f.op in ("min", "max"):
                ranges.setdefault(f.prop, {})[f.op] = f.value
            else:
                people = people.filter(condition(f))
        for prop, bounds in ranges.items():
            people = people.filter(in_range(prop, bounds))
        return people


def condition(f: Filter) -> Q:
    if f.prop is None and f.param == "name":
        return Q(first_name__icontains=f.value) | Q(last_name__icontains=f.value)
    if f.prop is None:
        return Q(id__in=PersonEmail.objects.filter(email__icontains=f.value).values("person_id"))
    values = PropertyValue.objects.filter(property=f.prop)
    if f.op == "empty":
        return ~Q(id__in=values.values("person_id"))
    if f.op == "not_empty":
        return Q(id__in=values.values("person_id"))
    column = {
        PropertyType.TEXT: "value_text",
        PropertyType.NUMBER: "value_number",
        PropertyType.DATE: "value_date",
        PropertyType.BOOLEAN: "value_bool",
        PropertyType.SINGLE_SELECT: "value_option",
        PropertyType.MULTI_SELECT: "value_options",
    }[PropertyType(f.prop.type)]
    lookup = {"contains": "__icontains", "eq": "", "any": "__in", "min": "__gte", "max": "__lte"}[f.op]
    return Q(id__in=values.filter(**{column + lookup: f.value}).values("person_id"))


def in_range(prop: Property, bounds: Mapping[str, Any]) -> Q:
    column = "value_date" if prop.type == PropertyType.DATE else "value_number"
    lookups = {f"{column}__{'gte' if op == 'min' else 'lte'}": value for op, value in bounds.items()}
    return Q(id__in=PropertyValue.objects.filter(property=prop, **lookups).values("person_id"))


# SQLite and PostgreSQL hold OFFSET in a signed 64-bit integer; no list gets near it.
_LARGEST_OFFSET = 2**63 - 1


def page_of(people: QuerySet[Person], number: Any, per_page: int, *, filtered: bool, exact: bool = False) -> Page:
    """A page of people with the number of people found, as Django's `Paginator.get_page` gives.

    Filtered, the count rides on the page query as COUNT(*) OVER (): the database finds and sorts
    the matches once, instead of once to count them and again to cut the page. Unfiltered, a plain
    count and an index-ordered page are cheaper, so the stock paginator does both.

    Pages show the nearest page to an unusable number, as `get_page` does. `exact` (the API, whose
    callers pass a number of 1 or more) gives the page asked for instead: past the last, it is empty.
    """
    paginator = Paginator(people, per_page)
    try:
        wanted = int(number)
    except (TypeError, ValueError):
        wanted = 1
    bottom = (wanted - 1) * per_page
    if filtered and bottom >= 0 and bottom + per_page <= _LARGEST_OFFSET:
        rows = list(people.annotate(found_total=Window(Count("id")))[bottom : bottom + per_page])
        if rows:
            paginator.__dict__["count"] = rows[0].found_total  # Paginator.count is a cached property.
            return Page(rows, wanted, paginator)
    if exact:
        try:
            return paginator.page(wanted)
        except EmptyPage:
            return Page([], wanted, paginator)
    # Past the last page, or nothing found: the stock paginator picks the page to show.
    return paginator.get_page(number)


def parse_filters(params: Mapping[str, list[str]], properties: Iterable[Property], viewer: Viewer) -> Filters:
    """Reads filters from query parameters; unusable ones are left out and explained in `errors`."""
    props = {p.key: p for p in properties}
    items: list[Filter] = []
    errors: list[str] = []
    for param, given in params.items():
        if (param in RESERVED or param.startswith("p.")) and any("\x00" in text for text in (param, *given)):
            # A NUL cannot be stored, so it can match nothing: say so rather than drop it.
            shown_param = param.replace("\x00", "\\0")
            errors.append(f"The filter “{shown_param}” holds a NUL character (\\0), which no value can hold.")
            continue
        given = [g for g in given if g.strip()]
        if not given:
            continue
        if param in RESERVED:
            if not viewer.pii:
                errors.append(f"Filtering on {param} needs a role that may see PII.")
                continue
            items.append(Filter(param=param, label=param.capitalize(), value=given[-1].strip(), given=given))
            continue
        if not param.startswith("p."):
            continue
        key, _, op = param[2:].partition(".")
        prop = props.get(key)
        if prop is None:
            errors.append(f"There is no property “{key}”.")
            continue
        if prop.pii and not viewer.pii:
            errors.append(f"Filtering on {prop.label} needs a role that may see PII.")
            continue
        f = Filter(param=param, label=prop.label, prop=prop, given=given)
        try:
            read(f, op, given)
        except InvalidValue as e:
            errors.append(f"{prop.label}: “{shown(viewer, prop.pii, given[-1])}” {e}")
            continue
        items.append(f)
    return Filters(items, errors)


def read(f: Filter, op: str, given: list[str]) -> None:
    prop = f.prop
    assert prop is not None
    if op == "is":
        if given[-1] not in ("empty", "not_empty"):
            raise InvalidValue("is not “empty” or “not_empty”.")
        f.op = given[-1]
        return
    if op in ("min", "max"):
        if prop.type not in (PropertyType.NUMBER, PropertyType.DATE):
            raise InvalidValue(f"is not a range: {prop.label} is neither a number nor a date.")
        f.op, f.value = op, parse(prop, given[-1])
        return
    if op:
        raise InvalidValue(f"uses an unknown filter “{op}”.")
    if prop.type == PropertyType.TEXT:
        f.op, f.value = "contains", given[-1].strip()
    elif prop.is_select:
        options = list(prop.options.all())
        f.op, f.value = "any", [find(prop, options, g) for g in given]
    elif prop.type == PropertyType.BOOLEAN:
        f.op, f.value = "eq", parse(prop, given[-1])
    else:
        f.op, f.value = "eq", parse(prop, given[-1])


def find(prop: Property, options: list[Any], given: str) -> int:
    # Retired options still filter: people keep the values they had.
    wanted = given.strip().casefold()
    for option in options:
        if str(option.code) == wanted or option.label.casefold() == wanted:
            return int(option.id)
    raise InvalidValue(f"is not one of the options of {prop.label}.")


def describe(f: Filter, viewer: Viewer) -> str:
    """The chip text of a filter."""
    prop = f.prop
    pii = prop.pii if prop else True
    if f.op == "empty":
        return f"{f.label} is empty"
    if f.op == "not_empty":
        return f"{f.label} is not empty"
    if f.op == "min":
        return f"{f.label} ≥ {shown(viewer, pii, f.given[-1])}"
    if f.op == "max":
        return f"{f.label} ≤ {shown(viewer, pii, f.given[-1])}"
    if f.op == "any" and prop is not None:
        labels = [o.label for o in prop.options.all() if o.id in f.value]
        return f"{f.label} is {shown(viewer, pii, ' or '.join(labels))}"
    if f.op == "eq" and prop is not None and prop.type == PropertyType.BOOLEAN:
        return f"{f.label}: {shown(viewer, pii, 'yes' if f.value else 'no')}"
    return f"{f.label} contains “{shown(viewer, pii, str(f.value))}”"


# Sorting and search (the People list): `sort=<column>` or `sort=-<column>` for descending, where a
# column is name, email, created or p.<key>; `q=<text>` searches names and emails. Both are one
# query with the page: a sort by email or by a property orders by a subquery, never row by row.
SORT_DEFAULT = "-created"
_VALUE_COLUMN = {
    PropertyType.TEXT: "value_text",
    PropertyType.NUMBER: "value_number",
    PropertyType.DATE: "value_date",
    PropertyType.BOOLEAN: "value_bool",
    # Select properties sort in the order of their options, as the filters list them.
    PropertyType.SINGLE_SELECT: "value_option__position",
    PropertyType.MULTI_SELECT: "value_options__position",
}


@dataclass
class Sort:
    column: str
    descending: bool
    error: str = ""

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.column

    def link(self, column: str) -> str:
        """The sort parameter a column's header sends: its own column flips, another starts ascending."""
        if column == self.column and not self.descending:
            return "-" + column
        return column


def parse_sort(given: str, properties: Iterable[Property], viewer: Viewer) -> Sort:
    """The list's order from `sort`; a column that is not sortable, or not for this viewer, says why."""
    descending = given.startswith("-")
    column = given.removeprefix("-").strip()
    default = Sort(SORT_DEFAULT[1:], True)
    if not column:
        return default
    props = {f"p.{p.key}": p for p in properties}
    if column not in ("name", "email", "created") and column not in props:
        return Sort(default.column, True, f"There is no column “{column}” to sort by.")
    prop = props.get(column)
    pii = prop.pii if prop is not None else column in ("name", "email")
    if pii and not viewer.pii:
        label = prop.label if prop is not None else column
        return Sort(default.column, True, f"Sorting by {label} needs a role that may see PII.")
    return Sort(column, descending)


def sorted_people(people: QuerySet[Person], sort: Sort, properties: Iterable[Property]) -> QuerySet[Person]:
    """Empty values come last either way; people who sort alike stay in a stable order (by id)."""
    tie = "-id" if sort.descending else "id"
    if sort.column == "created":
        return people.order_by("-created" if sort.descending else "created", tie)
    if sort.column == "name":
        keys: list[Any] = [NullIf(F("last_name"), Value("")), NullIf(F("first_name"), Value(""))]
    elif sort.column == "email":
        primary = PersonEmail.objects.filter(person=OuterRef("id"), is_primary=True).values("email")[:1]
        keys = [Subquery(primary)]
    else:
        prop = {f"p.{p.key}": p for p in properties}[sort.column]
        column = _VALUE_COLUMN[PropertyType(prop.type)]
        value = PropertyValue.objects.filter(person=OuterRef("id"), property=prop).order_by(column).values(column)[:1]
        keys = [Subquery(value)]
    if sort.descending:
        return people.order_by(*(k.desc(nulls_last=True) for k in keys), tie)
    return people.order_by(*(k.asc(nulls_last=True) for k in keys), tie)


def search(people: QuerySet[Person], text: str, viewer: Viewer) -> QuerySet[Person]:
    """Every word must be found in the first name, last name or an email. A viewer who may not see
    PII searches what they see instead: the start of the short person code."""
    words = text.split()
    if not viewer.pii:
        wanted = "".join(words).lower()
        return people.filter(code__istartswith=wanted) if wanted else people
    for word in words:
        emails = PersonEmail.objects.filter(email__icontains=word).values("person_id")
        people = people.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(id__in=emails))
    return people


def clean_query(params: Mapping[str, list[str]], *, drop: Iterable[str] = ()) -> str:
    """The query string without empty parameters (a submitted form sends every blank input) or `drop`."""
    dropped = set(drop)
    return urlencode([(k, v) for k, vs in params.items() if k not in dropped for v in vs if v.strip()])
