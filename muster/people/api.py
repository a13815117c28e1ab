"""REST API for people, properties and panels. Everything by UUID `code`; output through `serialise`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.timezone import now
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import BeforeValidator

from muster.accounts.roles import Capability
from muster.api.common import BODY_ERRORS, ERRORS, require
from muster.api.schemas import Input, JsonBool, JsonInt
from muster.people import bulk, contact, erasure, lookup, panels
from muster.people import values as pv
from muster.people.filters import page_of, parse_filters, parse_sort, search, sorted_people
from muster.people.models import (
    Erasure,
    MembershipStatus,
    Panel,
    PanelMembership,
    Person,
    PersonEmail,
    Property,
    PropertyOption,
    PropertyType,
    Revision,
    Source,
)
from muster.people.properties import (
    PropertyError,
    add_option,
    create_property,
    delete_property,
    update_option,
    update_property,
)
from muster.people.serialise import Viewer, change_json, error_text, person_json
from muster.people.writes import Policy

router: Router = Router(tags=["people"])
BULK_LIMIT = bulk.LIMIT
properties_router: Router = Router(tags=["properties"])
panels_router: Router = Router(tags=["panels"])


class OptionOut(Schema):
    code: UUID
    label: str
    position: int
    retired: bool


class PropertyOut(Schema):
    code: UUID
    key: str
    label: str
    type: str
    unique: bool
    pii: bool
    position: int
    options: list[OptionOut]


class PropertyIn(Input):
    key: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    label: str = Field(min_length=1, max_length=200)
    type: PropertyType
    unique: JsonBool = False
    pii: JsonBool = False
    options: list[str] = []


class PropertyPatch(Input):
    label: str | None = Field(None, min_length=1, max_length=200)
    unique: JsonBool | None = None
    pii: JsonBool | None = None
    position: JsonInt | None = Field(None, ge=0)


class OptionIn(Input):
    label: str = Field(min_length=1, max_length=200)


class OptionPatch(Input):
    label: str | None = Field(None, min_length=1, max_length=200)
    position: JsonInt | None = Field(None, ge=0)
    retired: JsonBool | None = None


class PersonOut(Schema):
    code: UUID
    first_name: str
    last_name: str
    email: str
    other_emails: list[str]
    opted_out: bool
    source: str
    created: datetime
    properties: dict[str, Any]


class PersonPage(Schema):
    count: int
    page: int
    pages: int
    results: list[PersonOut]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


# Surrounding whitespace is dropped before validating; the case is normalised when stored.
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$"), BeforeValidator(_strip)]


class PersonIn(Input):
    email: Email
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    other_emails: list[Email] = []
    properties: dict[str, Any] = {}


class PersonPatch(Input):
    email: Email | None = None
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    other_emails: list[Email] | None = None
    opted_out: JsonBool | None = None


class ValuesIn(Input):
    properties: dict[str, Any]


class ChangeOut(Schema):
    property: str
    old: Any
    new: Any
    source: str
    source_code: str
    changed_by: str | None
    at: datetime


class PanelOut(Schema):
    code: UUID
    name: str
    description: str
    members: int


class PanelIn(Input):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""


class PanelPatch(Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None


class MemberOut(Schema):
    code: UUID
    person: UUID
    status: MembershipStatus
    source: str
    created: datetime


class MembersIn(Input):
    people: list[UUID] = []
    emails: list[str] = []
    status: MembershipStatus = MembershipStatus.APPROVED


class MemberPatch(Input):
    status: MembershipStatus


def all_properties() -> list[Property]:
    return list(Property.objects.prefetch_related("options"))


def people_with_emails() -> Any:
    return Person.objects.prefetch_related(Prefetch("emails", queryset=PersonEmail.objects.all()))


def person_out(request: HttpRequest, person: Person) -> dict[str, Any]:
    props = all_properties()
    return person_json(Viewer.of(request.auth), person, props, pv.values_of([person], props))  # type: ignore[attr-defined]


def parse_values(viewer: Viewer, given: dict[str, Any], person: Person | None = None) -> dict[Property, Any]:
    props = {p.key: p for p in all_properties()}
    parsed = {}
    for key, raw in given.items():
        prop = props.get(key)
        if prop is None:
            raise HttpError(422, f"properties.{key}: there is no such property.")
        held = pv.held_options(person, prop) if person is not None else []
        try:
            parsed[prop] = pv.parse(prop, raw, prop.options.all(), held)
        except pv.InvalidValue as e:
            raise HttpError(422, f"properties.{key}: {error_text(viewer, prop, raw, str(e))}") from None
    return parsed


def write_values(viewer: Viewer, request: HttpRequest, person: Person, parsed: dict[Property, Any]) -> None:
    try:
        pv.set_values(person, parsed, source=Source.API, source_code="api", user=require(request, Capability.VIEW))
    except pv.InvalidValue as e:
        # set_values never puts the value in its message; it names the property.
        raise HttpError(409, f"This value {e}") from None


@router.get("/people", response={200: PersonPage, **BODY_ERRORS}, summary="List people, filtered")
def list_people(
    request: HttpRequest,
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=200),
    sort: str = Query("-created", max_length=70),
    q: str = Query("", max_length=100),
) -> dict[str, Any]:
    """Filters are query parameters, ANDed: `name`, `email`, `p.<key>` (text contains, option code or
    label, yes/no), `p.<key>.min` / `p.<key>.max` (number, date), `p.<key>.is=empty|not_empty`.
    `q` searches names and emails (every word); `sort` is `name`, `email`, `created` or `p.<key>`,
    with `-` for descending, as on the People list."""
    user = require(request, Capability.VIEW)
    viewer = Viewer.of(user)
    props = all_properties()
    filters = parse_filters(dict(request.GET.lists()), props, viewer)
    if filters.errors:
        raise HttpError(403 if "PII" in filters.errors[0] else 422, filters.errors[0])
    order = parse_sort(sort, props, viewer)
    if order.error:
        raise HttpError(403 if "PII" in order.error else 422, order.error)
    people = sorted_people(search(filters.apply(people_with_emails()), q, viewer), order, props)
    current = page_of(people, page, page_size, filtered=bool(filters.items or q.strip()), exact=True)
    paginator = current.paginator
    values = pv.values_of(current.object_list, props)
    return {
        "count": paginator.count,
        "page": current.number,
        "pages": paginator.num_pages,
        "results": [person_json(viewer, p, props, values) for p in current.object_list],
    }


class BulkIn(Input):
    # Each item is checked on its own, so one bad item refuses that item, not the request.
    items: list[Any] = Field(max_length=BULK_LIMIT)
    policy: Policy = Policy.OVERWRITE


class SkippedOut(Schema):
    property: str
    reason: str


class BulkResult(Schema):
    index: int
    email: str
    status: str
    errors: list[str]
    skipped: list[SkippedOut]


class BulkOut(Schema):
    results: list[BulkResult]


@router.post(
    "/people/bulk",
    response={200: BulkOut, **BODY_ERRORS},
    summary=f"Create or update up to {BULK_LIMIT:,} people by email, with their property values",
)
def bulk_people(request: HttpRequest, body: BulkIn) -> dict[str, Any]:
    """Each item is `{"email", "first_name"?, "last_name"?, "properties": {key: value}}`; an unknown
    email creates a person. Every valid item is written, whole, even when others are refused; two
    items with the same email or the same unique value are both refused. `policy` applies to every
    value: `overwrite` (null empties), `only_if_empty`, `add` (multi-select: union with what is held)."""
    user = require(request, Capability.MANAGE_PEOPLE)
    revision = Revision(source=Source.API, source_code="api", changed_by=user, at=now())
    return {"results": bulk.upsert_items(Viewer.of(user), body.items, body.policy, revision)}


@router.get("/people/{code}", response={200: PersonOut, **BODY_ERRORS}, summary="Get a person")
def get_person(request: HttpRequest, code: UUID) -> dict[str, Any]:
    require(request, Capability.VIEW)
    return person_out(request, get_object_or_404(people_with_emails(), code=code))


@router.post("/people", response={201: PersonOut, 409: Any, **BODY_ERRORS}, summary="Create a person")
def create_person(request: HttpRequest, body: PersonIn) -> tuple[int, dict[str, Any]]:
    user = require(request, Capability.MANAGE_PEOPLE)
    viewer = Viewer.of(user)
    parsed = parse_values(viewer, body.properties)
    try:
        with transaction.atomic():
            person = pv.create_person(
                body.email, first_name=body.first_name, last_name=body.last_name, source=Source.API, user=user
            )
            if body.other_emails:
                pv.set_emails(person, body.email, body.other_emails)
            write_values(viewer, request, person, parsed)
    except pv.EmailTaken as e:
        raise HttpError(409, str(e)) from None
    return 201, person_out(request, people_with_emails().get(id=person.id))


@router.patch("/people/{code}", response={200: PersonOut, 409: Any, **BODY_ERRORS}, summary="Update a person")
def update_person(request: HttpRequest, code: UUID, body: PersonPatch) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_PEOPLE)
    person = get_object_or_404(people_with_emails(), code=code)
    if body.first_name is not None:
        person.first_name = body.first_name.strip()
    if body.last_name is not None:
        person.last_name = body.last_name.strip()
    try:
        with transaction.atomic():
            person.save(update_fields=["first_name", "last_name"])
            if body.opted_out is not None:
                if body.opted_out:
                    contact.opt_out(person, user)
                else:
                    contact.opt_in(person, user, "Opted back in through the API.")
            if body.email is not None or body.other_emails is not None:
                others = [e.email for e in person.emails.all() if not e.is_primary]
                pv.set_emails(
                    person,
                    body.email or person.primary_email,
                    others if body.other_emails is None else body.other_emails,
                )
    except pv.EmailTaken as e:
        raise HttpError(409, str(e)) from None
    return person_out(request, people_with_emails().get(id=person.id))


@router.put(
    "/people/{code}/properties",
    response={200: PersonOut, 409: Any, **BODY_ERRORS},
    summary="Set property values (null empties one; keys not given are left alone)",
)
def set_person_values(request: HttpRequest, code: UUID, body: ValuesIn) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_PEOPLE)
    viewer = Viewer.of(user)
    person = get_object_or_404(Person, code=code)
    write_values(viewer, request, person, parse_values(viewer, body.properties, person))
    return person_out(request, people_with_emails().get(id=person.id))


class ErasureOut(Schema):
    code: UUID
    at: datetime
    counts: dict[str, int]


@router.delete(
    "/people/{code}",
    response={200: ErasureOut, **BODY_ERRORS},
    summary="Erase a person (GDPR/CCPA): everything about them goes; not the same as opting out",
)
def erase_person(request: HttpRequest, code: UUID) -> Erasure:
    """Deletes the person with their emails, property values, history, panel memberships and study
    participations. The answer is the erasure record (who and when are kept, nothing about the person).
    To stop contacting someone but keep them, PATCH `opted_out` instead."""
    user = require(request, Capability.MANAGE_PEOPLE)
    return erasure.erase(get_object_or_404(Person, code=code), user)


@router.get("/people/{code}/history", response={200: list[ChangeOut], **BODY_ERRORS}, summary="Value history")
def person_history(request: HttpRequest, code: UUID) -> list[dict[str, Any]]:
    user = require(request, Capability.VIEW)
    person = get_object_or_404(Person, code=code)
    changes = person.changes.select_related("property", "revision__changed_by")[:500]
    return [change_json(Viewer.of(user), c) for c in changes]


@properties_router.get("/properties", response={200: list[PropertyOut], **ERRORS}, summary="List properties")
def list_properties(request: HttpRequest) -> list[Property]:
    require(request, Capability.VIEW)
    return all_properties()


@properties_router.post(
    "/properties", response={201: PropertyOut, 409: Any, **BODY_ERRORS}, summary="Create a property"
)
def post_property(request: HttpRequest, body: PropertyIn) -> tuple[int, Property]:
    require(request, Capability.MANAGE_PROPERTIES)
    try:
        prop = create_property(body.key, body.label, body.type, unique=body.unique, pii=body.pii, options=body.options)
    except PropertyError as e:
        raise HttpError(409, str(e)) from None
    return 201, Property.objects.prefetch_related("options").get(id=prop.id)


@properties_router.patch(
    "/properties/{code}", response={200: PropertyOut, 409: Any, **BODY_ERRORS}, summary="Update a property"
)
def patch_property(request: HttpRequest, code: UUID, body: PropertyPatch) -> Property:
    require(request, Capability.MANAGE_PROPERTIES)
    prop = get_object_or_404(Property, code=code)
    try:
        update_property(prop, **body.dict(exclude_none=True))
    except PropertyError as e:
        raise HttpError(409, str(e)) from None
    return Property.objects.prefetch_related("options").get(id=prop.id)


@properties_router.post(
    "/properties/{code}/options", response={201: OptionOut, 409: Any, **BODY_ERRORS}, summary="Add an option"
)
def post_option(request: HttpRequest, code: UUID, body: OptionIn) -> tuple[int, PropertyOption]:
    require(request, Capability.MANAGE_PROPERTIES)
    prop = get_object_or_404(Property, code=code)
    try:
        return 201, add_option(prop, body.label)
    except PropertyError as e:
        raise HttpError(409, str(e)) from None


@properties_router.patch(
    "/properties/{code}/options/{option_code}",
    response={200: OptionOut, 409: Any, **BODY_ERRORS},
    summary="Rename, move or retire an option",
)
def patch_option(request: HttpRequest, code: UUID, option_code: UUID, body: OptionPatch) -> PropertyOption:
    require(request, Capability.MANAGE_PROPERTIES)
    option = get_object_or_404(PropertyOption, code=option_code, property__code=code)
    try:
        update_option(option, **body.dict(exclude_none=True))
    except PropertyError as e:
        raise HttpError(409, str(e)) from None
    return option


def panel_out(panel: Panel) -> dict[str, Any]:
    members = panel.memberships.filter(status=MembershipStatus.APPROVED).count()
    return {"code": panel.code, "name": panel.name, "description": panel.description, "members": members}


def member_out(m: PanelMembership) -> dict[str, Any]:
    return {"code": m.code, "person": m.person.code, "status": m.status, "source": m.source, "created": m.created}


@properties_router.delete(
    "/properties/{code}",
    response={204: None, 409: Any, **BODY_ERRORS},
    summary="Delete a property with its values and history (refused while a mapping writes to it)",
)
def delete_property_route(request: HttpRequest, code: UUID) -> tuple[int, None]:
    require(request, Capability.MANAGE_PROPERTIES)
    prop = get_object_or_404(Property, code=code)
    try:
        delete_property(prop)
    except PropertyError as e:
        raise HttpError(409, str(e)) from None
    return 204, None


@panels_router.get("/panels", response={200: list[PanelOut], **ERRORS}, summary="List panels")
def list_panels(request: HttpRequest) -> list[dict[str, Any]]:
    require(request, Capability.VIEW)
    return [panel_out(p) for p in Panel.objects.all()]


@panels_router.post("/panels", response={201: PanelOut, **BODY_ERRORS}, summary="Create a panel")
def post_panel(request: HttpRequest, body: PanelIn) -> tuple[int, dict[str, Any]]:
    require(request, Capability.MANAGE_PANELS)
    panel = Panel.objects.create(name=body.name.strip(), description=body.description.strip())
    return 201, panel_out(panel)


@panels_router.get("/panels/{code}", response={200: PanelOut, **BODY_ERRORS}, summary="Get a panel")
def get_panel(request: HttpRequest, code: UUID) -> dict[str, Any]:
    require(request, Capability.VIEW)
    return panel_out(get_object_or_404(Panel, code=code))


@panels_router.patch("/panels/{code}", response={200: PanelOut, **BODY_ERRORS}, summary="Update a panel")
def patch_panel(request: HttpRequest, code: UUID, body: PanelPatch) -> dict[str, Any]:
    require(request, Capability.MANAGE_PANELS)
    panel = get_object_or_404(Panel, code=code)
    if body.name is not None:
        panel.name = body.name.strip()
    if body.description is not None:
        panel.description = body.description.strip()
    panel.save()
    return panel_out(panel)


@panels_router.get("/panels/{code}/members", response={200: list[MemberOut], **BODY_ERRORS}, summary="List members")
def list_members(request: HttpRequest, code: UUID, status: MembershipStatus | None = None) -> list[dict[str, Any]]:
    require(request, Capability.VIEW)
    panel = get_object_or_404(Panel, code=code)
    members = panel.memberships.select_related("person")
    if status is not None:
        members = members.filter(status=status)
    return [member_out(m) for m in members[:5000]]


@panels_router.post(
    "/panels/{code}/members",
    response={200: list[MemberOut], **BODY_ERRORS},
    summary="Add people by code or email (people already in the panel are left as they are)",
)
def post_members(request: HttpRequest, code: UUID, body: MembersIn) -> list[dict[str, Any]]:
    require(request, Capability.MANAGE_PANELS)
    panel = get_object_or_404(Panel, code=code)
    try:
        people = lookup.people_named(body.people, body.emails)
    except lookup.Unknown as e:
        # The body names people who do not exist; the panel or study in the URL does: not a 404.
        raise HttpError(422, str(e)) from None
    panels.add_members(panel, people, body.status)
    ids = [p.id for p in people]
    members = panel.memberships.filter(person_id__in=ids).select_related("person")
    return [member_out(m) for m in members]


@panels_router.patch(
    "/panels/{code}/members/{person_code}",
    response={200: MemberOut, 409: Any, **BODY_ERRORS},
    summary="Approve or reject a member",
)
def patch_member(request: HttpRequest, code: UUID, person_code: UUID, body: MemberPatch) -> dict[str, Any]:
    user = require(request, Capability.MANAGE_PANELS)
    m = get_object_or_404(PanelMembership.objects.select_related("person"), panel__code=code, person__code=person_code)
    try:
        panels.decide(m, body.status, user)
    except panels.Refused as e:
        raise HttpError(409, str(e)) from None
    return member_out(m)


@panels_router.delete(
    "/panels/{code}", response={204: None, 409: Any, **BODY_ERRORS}, summary="Delete a panel (its people stay)"
)
def delete_panel_route(request: HttpRequest, code: UUID) -> tuple[int, None]:
    require(request, Capability.MANAGE_PANELS)
    panel = get_object_or_404(Panel, code=code)
    try:
        panels.delete_panel(panel)
    except panels.Refused as e:
        raise HttpError(409, str(e)) from None
    return 204, None


@panels_router.delete(
    "/panels/{code}/members/{person_code}",
    response={204: None, **BODY_ERRORS},
    summary="Remove a member (they can be added again)",
)
def delete_member(request: HttpRequest, code: UUID, person_code: UUID) -> tuple[int, None]:
    require(request, Capability.MANAGE_PANELS)
    m = get_object_or_404(PanelMembership, panel__code=code, person__code=person_code)
    panels.remove(m)
    return 204, None
