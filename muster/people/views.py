from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from muster.accounts.decorators import requires, signed_in_user
from muster.accounts.roles import Capability, can
from muster.people import columns as list_columns
from muster.people import contact, csvio, erasure, export, forms, imports, lookup, registry
from muster.people import panels as membership
from muster.people import values as pv
from muster.people.filters import (
    Filters,
    Sort,
    clean_query,
    describe,
    page_of,
    parse_filters,
    parse_sort,
    search,
    sorted_people,
)
from muster.people.models import (
    ImportStatus,
    MembershipStatus,
    Panel,
    PanelMembership,
    Person,
    PersonImport,
    Property,
    PropertyOption,
    PropertyType,
    Source,
)
from muster.people.properties import (
    PropertyError,
    add_option,
    create_property,
    delete_property,
    update_option,
    update_property,
    what_deleting_removes,
)
from muster.people.serialise import (
    MASK,
    Viewer,
    change_row,
    email,
    error_text,
    name,
    rejection_row,
    short_code,
    value_on_page,
)

PAGE_SIZE = 25


def all_properties() -> list[Property]:
    return list(Property.objects.prefetch_related("options"))


def filtered(request: HttpRequest, props: list[Property], params: Any = None) -> tuple[Any, Filters]:
    viewer = Viewer.of(request.user)
    params = params or request.GET
    filters = parse_filters(dict(params.lists()), props, viewer)
    found = search(filters.apply(Person.objects.order_by("-created", "-id")), params.get("q", ""), viewer)
    return found, filters


def without(request: HttpRequest, param: str) -> str:
    rest = [(k, v) for k, vs in request.GET.lists() if k not in (param, "page") for v in vs]
    return "?" + urlencode(rest)


@requires(Capability.VIEW)
def people(request: HttpRequest) -> HttpResponse:
    clean = clean_query(dict(request.GET.lists()))
    if clean != request.GET.urlencode():
        # A submitted filter form sends every blank input: the list's address keeps only what filters.
        return redirect(reverse("people") + (f"?{clean}" if clean else ""))
    viewer = Viewer.of(request.user)
    props = all_properties()
    found, filters = filtered(request, props)
    sort = parse_sort(request.GET.get("sort", ""), props, viewer)
    searching = bool(request.GET.get("q", "").strip())
    found = sorted_people(found, sort, props)
    page = page_of(
        found.prefetch_related("emails"), request.GET.get("page"), PAGE_SIZE, filtered=bool(filters.items) or searching
    )
    # A property being filtered on is shown too, whether chosen or not.
    shown = {f.prop.id for f in filters.items if f.prop is not None} | {
        p.id for p in list_columns.chosen(signed_in_user(request), props)
    }
    columns = [p for p in props if p.id in shown]
    values = pv.values_of(page.object_list, columns)
    rows = [
        {
            "person": p,
            "name": name(viewer, p) or "—",
            "email": email(viewer, p.primary_email),
            "code": short_code(p),
            "values": [value_on_page(viewer, c, values.get((p.id, c.id))) for c in columns],
        }
        for p in page.object_list
    ]
    query = clean_query(dict(request.GET.lists()), drop=("page",))
    targets = [(t, t.choices(request)) for t in registry.add_targets.values()]
    ctx = {
        "section": "people",
        "page": page,
        "rows": rows,
        "columns": columns,
        "properties": props,
        "chips": [{"text": describe(f, viewer), "remove": without(request, f.param)} for f in filters.items],
        "errors": filters.errors + ([sort.error] if sort.error else []),
        "given": {k: request.GET.getlist(k) for k in request.GET},
        "query": query,
        "q": request.GET.get("q", ""),
        "sort": sort.param if request.GET.get("sort") and not sort.error else "",
        "headers": sort_headers(request, sort, columns, viewer),
        "chosen": [(p, p in columns) for p in props],
        "targets": targets,
        "offered": " or ".join(t.noun for t, choices in targets if choices is not None).capitalize(),
        "may_see_pii": viewer.pii,
        "first_steps": registry.first_steps_for(request.user),
    }
    return render(request, "people/people.html", ctx)


@require_POST
@requires(Capability.VIEW)
def people_columns(request: HttpRequest) -> HttpResponse:
    kept = list_columns.choose(signed_in_user(request), request.POST.getlist("column"))
    messages.success(request, f"The list shows {kept} propert{'y' if kept == 1 else 'ies'} as columns.")
    query = request.POST.get("query", "")
    return redirect(reverse("people") + (f"?{clean_query(dict(QueryDict(query).lists()))}" if query else ""))


def sort_headers(request: HttpRequest, sort: Sort, columns: list[Property], viewer: Viewer) -> list[dict[str, Any]]:
    """The list's column headers: a link that sorts by the column (PII ones only for who may see it)."""
    shown = [("name", "Name", True), ("email", "Email", True)] if viewer.pii else []
    shown += [("created", "Added", False)] + [(f"p.{c.key}", c.label, c.pii) for c in columns]
    headers = []
    for column, label, pii in shown:
        params = dict(request.GET.lists()) | {"sort": [sort.link(column)]}
        headers.append(
            {
                "label": label,
                "href": "?" + clean_query(params, drop=("page",)),
                "sortable": viewer.pii or not pii,
                "aria_sort": ("descending" if sort.descending else "ascending") if column == sort.column else "",
            }
        )
    return headers


@require_POST
@requires(Capability.VIEW)
def people_bulk(request: HttpRequest) -> HttpResponse:
    """Adds the selected people, or everyone the filter finds, to a panel, a study, or whatever
    else an app registered as a target (`registry.add_targets`)."""
    back = reverse("people") + "?" + request.POST.get("query", "")
    kind, _, code = request.POST.get("target", "").partition(":")
    target = registry.add_targets.get(kind)
    if target is None or not _is_uuid(code):
        messages.error(request, f"Choose {' or '.join(t.noun for t in registry.add_targets.values())}.")
        return redirect(back)
    if request.POST.get("scope") == "filter":
        params = QueryDict(request.POST.get("query", ""))
        chosen, filters = filtered(request, all_properties(), params)
        if filters.errors:
            messages.error(request, filters.errors[0])
            return redirect(back)
    else:
        try:
            named = lookup.people_named(codes=request.POST.getlist("person"))
        except lookup.Unknown as e:
            messages.error(request, str(e))
            return redirect(back)
        chosen = Person.objects.filter(id__in=[p.id for p in named])
    target.add(request, uuid.UUID(code), chosen)
    return redirect(back)


def panel_choices(request: HttpRequest) -> list[tuple[UUID, str]] | None:
    if not can(request.user, Capability.MANAGE_PANELS):
        return None
    return list(Panel.objects.values_list("code", "name"))


def add_to_panel(request: HttpRequest, code: UUID, people: QuerySet[Person]) -> None:
    if not can(request.user, Capability.MANAGE_PANELS):
        messages.error(request, "Your role does not allow this: manage panels.")
        return
    panel = get_object_or_404(Panel, code=code)
    chosen = people.count()
    added = membership.add_members(panel, people)
    already = chosen - added
    members = f"{already} {'was' if already == 1 else 'were'} already {'a member' if already == 1 else 'members'}"
    if added == 0:
        why = members if already else "no one was chosen"
        messages.warning(request, f"No one was added to the panel {panel.name}: {why}.")
    elif already:
        messages.warning(request, f"{added} added to the panel {panel.name}; {members}.")
    else:
        messages.success(request, f"{added} added to the panel {panel.name}.")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@requires(Capability.MANAGE_PEOPLE)
def people_export(request: HttpRequest) -> HttpResponse:
    props = all_properties()
    found, filters = filtered(request, props)
    if filters.errors:
        messages.error(request, filters.errors[0])
        return redirect(reverse("people") + "?" + request.GET.urlencode())
    rows = export.export_rows(found, props, Viewer.of(request.user))
    response = StreamingHttpResponse(export.csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="people.csv"'
    return response  # type: ignore[return-value]


@requires(Capability.MANAGE_PEOPLE)
def person_new(request: HttpRequest) -> HttpResponse:
    form = forms.PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                person = pv.create_person(
                    form.cleaned_data["email"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    source=Source.MANUAL,
                    user=signed_in_user(request),
                )
                if form.other_email_list():
                    pv.set_emails(person, form.cleaned_data["email"], form.other_email_list())
        except pv.EmailTaken as e:
            form.add_error("email", str(e))
        else:
            messages.success(request, "The person was added. Fill in their properties below.")
            return redirect(reverse("person", args=[person.code]) + "?tab=properties")
    return render(request, "people/person_form.html", {"section": "people", "form": form, "person": None})


# The profile's own tabs; other apps add theirs between Panels and Activity (`registry.profile_tabs`).
TABS = (("overview", "Overview"), ("properties", "Properties"), ("panels", "Panels"))
LAST_TABS = (("activity", "Activity"),)


@requires(Capability.VIEW)
def person(request: HttpRequest, code: UUID) -> HttpResponse:
    viewer = Viewer.of(request.user)
    person = get_object_or_404(Person.objects.prefetch_related("emails"), code=code)
    contributed = registry.profile_tabs
    tabs = [*TABS, *((t.key, t.label) for t in contributed.values()), *LAST_TABS]
    tab = request.GET.get("tab", "overview")
    tab = tab if tab in dict(tabs) else "overview"
    props = all_properties()
    values = pv.values_of([person], props)
    changes = list(person.changes.select_related("property", "revision__changed_by")[:300])
    history: dict[int, list[dict[str, Any]]] = {}
    for c in changes:
        history.setdefault(c.property_id, []).append(change_row(viewer, c))
    ctx = {
        "section": "people",
        "person": person,
        "tab": tab,
        "tabs": tabs,
        "contributed": contributed.get(tab),
        "summaries": [t.summary(request, person) for t in contributed.values() if t.summary and tab == "overview"],
        "name": name(viewer, person),
        # The page's title names the person, or only their short code where names are masked.
        "title": (person.name or "(no name)") if viewer.pii else f"Person {short_code(person)}",
        "emails": [(email(viewer, e.email), e.is_primary) for e in person.emails.all()],
        "contact_changes": person.contact_changes.select_related("by")[:10],
        "properties": [
            {
                "prop": p,
                "text": value_on_page(viewer, p, values.get((person.id, p.id))),
                "raw": values.get((person.id, p.id)),
                "masked": viewer.masks(p),
                "history": history.get(p.id, []),
            }
            for p in props
        ],
        "filled": sum(1 for p in props if (person.id, p.id) in values),
        "memberships": person.memberships.select_related("panel"),
        "activity": [change_row(viewer, c) for c in changes[:50]],
        "edit_value": request.GET.get("edit"),
        "mask": MASK,
        "erases": erasure.preview(person) if can(request.user, Capability.MANAGE_PEOPLE) else [],
    }
    if tab in contributed:
        ctx |= contributed[tab].context(request, person)
    return render(request, "people/person.html", ctx)


@requires(Capability.MANAGE_PEOPLE)
def person_edit(request: HttpRequest, code: UUID) -> HttpResponse:
    person = get_object_or_404(Person.objects.prefetch_related("emails"), code=code)
    others = "\n".join(e.email for e in person.emails.all() if not e.is_primary)
    initial = {"email": person.primary_email, "other_emails": others}
    initial |= {"first_name": person.first_name, "last_name": person.last_name}
    form = forms.PersonForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                person.first_name = form.cleaned_data["first_name"].strip()
                person.last_name = form.cleaned_data["last_name"].strip()
                person.save()
                pv.set_emails(person, form.cleaned_data["email"], form.other_email_list())
        except pv.EmailTaken as e:
            form.add_error("email", str(e))
        else:
            messages.success(request, "Saved.")
            return redirect("person", code=person.code)
    return render(request, "people/person_form.html", {"section": "people", "form": form, "person": person})


@require_POST
@requires(Capability.MANAGE_PEOPLE)
def person_value(request: HttpRequest, code: UUID, property_code: UUID) -> HttpResponse:
    person = get_object_or_404(Person, code=code)
    prop = get_object_or_404(Property.objects.prefetch_related("options"), code=property_code)
    raw: Any = request.POST.getlist("value") if prop.type == PropertyType.MULTI_SELECT else request.POST.get("value")
    back = reverse("person", args=[person.code]) + "?tab=properties"
    try:
        parsed = pv.parse(prop, raw, prop.options.all(), pv.held_options(person, prop))
        changed = pv.set_values(person, {prop: parsed}, source=Source.MANUAL, user=signed_in_user(request))
    except pv.InvalidValue as e:
        # The form sends option codes: name the options by their labels.
        labels = {str(o.code): o.label for o in prop.options.all()}
        picked: list[str] = raw if isinstance(raw, list) else [raw or ""]
        given = ", ".join(labels.get(v, v) for v in picked)
        messages.error(request, error_text(Viewer.of(request.user), prop, given, str(e)))
        return redirect(back + f"&edit={prop.code}")
    messages.success(request, f"{prop.label} saved." if changed else f"{prop.label} is unchanged.")
    return redirect(back)


@require_POST
@requires(Capability.MANAGE_PEOPLE)
def person_opt_out(request: HttpRequest, code: UUID) -> HttpResponse:
    person = get_object_or_404(Person, code=code)
    contact.opt_out(person, signed_in_user(request))
    messages.success(request, "Opted out: this person will not be invited or reminded.")
    return redirect("person", code=person.code)


@require_POST
@requires(Capability.MANAGE_PEOPLE)
def person_opt_in(request: HttpRequest, code: UUID) -> HttpResponse:
    person = get_object_or_404(Person, code=code)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, "Say why they may be contacted again (they asked, or the opt-out was a mistake).")
        return redirect("person", code=person.code)
    contact.opt_in(person, signed_in_user(request), reason)
    messages.success(request, "Opted back in: this person may be invited and reminded again.")
    return redirect("person", code=person.code)


@require_POST
@requires(Capability.MANAGE_PEOPLE)
def person_erase(request: HttpRequest, code: UUID) -> HttpResponse:
    person = get_object_or_404(Person, code=code)
    record = erasure.erase(person, signed_in_user(request))
    rows = sum(record.counts.values())
    messages.success(request, f"Erased: {rows} records about this person are gone. The erasure is logged without them.")
    return redirect("people")


@requires(Capability.MANAGE_PROPERTIES)
def properties(request: HttpRequest) -> HttpResponse:
    form = forms.PropertyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        options = [line.strip() for line in d["options"].splitlines() if line.strip()]
        try:
            prop = create_property(d["key"], d["label"], d["type"], unique=d["unique"], pii=d["pii"], options=options)
        except PropertyError as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, f"The property {prop.label} was created.")
            return redirect("properties")
    ctx = {"section": "settings", "form": form, "properties": all_properties()}
    return render(request, "people/properties.html", ctx)


@requires(Capability.MANAGE_PROPERTIES)
def property_edit(request: HttpRequest, code: UUID) -> HttpResponse:
    prop = get_object_or_404(Property.objects.prefetch_related("options"), code=code)
    initial = {"label": prop.label, "unique": prop.unique, "pii": prop.pii, "position": prop.position}
    form = forms.PropertyEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            update_property(prop, **form.cleaned_data)
        except PropertyError as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, "Saved.")
            return redirect("property", code=prop.code)
    removes = [f"{n} {what}" for what, n in what_deleting_removes(prop).items() if n]
    ctx = {"section": "settings", "prop": prop, "form": form, "used": prop.values.count(), "removes": removes}
    return render(request, "people/property.html", ctx)


@require_POST
@requires(Capability.MANAGE_PROPERTIES)
def property_delete(request: HttpRequest, code: UUID) -> HttpResponse:
    prop = get_object_or_404(Property, code=code)
    try:
        removed = delete_property(prop)
    except PropertyError as e:
        messages.error(request, str(e))
        return redirect("property", code=prop.code)
    messages.success(
        request, f"The property {prop.label} was deleted, with {removed['values']} values and their history."
    )
    return redirect("properties")


@require_POST
@requires(Capability.MANAGE_PROPERTIES)
def property_option_add(request: HttpRequest, code: UUID) -> HttpResponse:
    prop = get_object_or_404(Property, code=code)
    label = request.POST.get("label", "").strip()[:200]
    if not label:
        messages.error(request, "Give the option a label.")
        return redirect("property", code=prop.code)
    try:
        add_option(prop, label)
    except PropertyError as e:
        messages.error(request, str(e))
    return redirect("property", code=prop.code)


@require_POST
@requires(Capability.MANAGE_PROPERTIES)
def property_option_update(request: HttpRequest, code: UUID, option_code: UUID) -> HttpResponse:
    option = get_object_or_404(PropertyOption.objects.select_related("property"), code=option_code, property__code=code)
    changes: dict[str, Any] = {}
    action = request.POST.get("action")
    if action == "rename":
        changes["label"] = request.POST.get("label", "").strip()[:200] or option.label
    elif action in ("up", "down"):
        changes["position"] = max(0, option.position + (-1 if action == "up" else 1))
    elif action in ("retire", "restore"):
        changes["retired"] = action == "retire"
    try:
        update_option(option, **changes)
    except PropertyError as e:
        messages.error(request, str(e))
    return redirect("property", code=code)


@requires(Capability.MANAGE_PEOPLE)
def people_import(request: HttpRequest) -> HttpResponse:
    form = forms.ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        imp = PersonImport(created_by=signed_in_user(request), filename=upload.name[:255], size=upload.size)
        path = csvio.import_dir() / f"{imp.code}.csv"
        with path.open("wb") as f:
            for chunk in upload.chunks():
                f.write(chunk)
        try:
            imp.columns = csvio.read_header(path)
        except csvio.BadFile as e:
            path.unlink(missing_ok=True)
            form.add_error("file", str(e))
        else:
            imp.path = str(path)
            imp.mapping = csvio.guess_mapping(imp.columns, all_properties())
            imp.save()
            return redirect("people_import_status", code=imp.code)
    recent = PersonImport.objects.select_related("created_by")[:10]
    return render(request, "people/import.html", {"section": "people", "form": form, "imports": recent})


@requires(Capability.MANAGE_PEOPLE)
def people_import_status(request: HttpRequest, code: UUID) -> HttpResponse:
    imp = get_object_or_404(PersonImport, code=code)
    props = all_properties()
    targets = [("", "Skip this column"), *csvio.BUILTIN.items(), *[(str(p.code), p.label) for p in props]]
    error = ""
    if request.method == "POST" and imp.status == ImportStatus.MAPPING:
        allowed = {t for t, _ in targets}
        mapping = {c: request.POST.get(f"map-{i}", "") for i, c in enumerate(imp.columns)}
        chosen = [t for t in mapping.values() if t]
        if any(t not in allowed for t in chosen):
            error = "Choose a listed target for every column."
        elif chosen.count(csvio.EMAIL) != 1:
            error = "Map exactly one column to Email: people are matched by email."
        elif len(set(chosen)) != len(chosen):
            error = "Two columns go to the same place: map each target once."
        else:
            imp.mapping = mapping
            imp.status = ImportStatus.QUEUED
            imp.save()
            csvio.import_people.enqueue(str(imp.code))
            return redirect("people_import_status", code=imp.code)
    ctx = {
        "section": "people",
        "imp": imp,
        "targets": targets,
        "columns": [(i, c, imp.mapping.get(c, "")) for i, c in enumerate(imp.columns)],
        "error": error,
        **_report(request, imp),
    }
    return render(request, "people/import_status.html", ctx)


def _report(request: HttpRequest, imp: PersonImport) -> dict[str, Any]:
    viewer = Viewer.of(request.user)
    finished = imp.ended
    rejections = [
        rejection_row(viewer, r)
        for r in imp.rejections.select_related("property").prefetch_related("property__options")[:1000]
    ]
    return {"finished": finished, "rejections": rejections}


@require_POST
@requires(Capability.MANAGE_PEOPLE)
def people_import_cancel(request: HttpRequest, code: UUID) -> HttpResponse:
    return _change_import(request, code, imports.cancel, "Import cancelled: nothing more will be imported.")


@require_POST
@requires(Capability.MANAGE_PEOPLE)
def people_import_retry(request: HttpRequest, code: UUID) -> HttpResponse:
    def retry(imp: PersonImport) -> None:
        imports.retry(imp, csvio.import_people.enqueue)

    return _change_import(request, code, retry, "Import queued again: it goes on after the rows already saved.")


@require_POST
@requires(Capability.MANAGE_PEOPLE)
def people_import_dismiss(request: HttpRequest, code: UUID) -> HttpResponse:
    return _change_import(request, code, imports.dismiss, "Import dismissed.")


def _change_import(request: HttpRequest, code: UUID, change: Any, done: str) -> HttpResponse:
    imp = get_object_or_404(PersonImport, code=code)
    try:
        change(imp)
    except imports.ImportRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(request, done)
    return redirect("people_import_status", code=imp.code)


@requires(Capability.MANAGE_PEOPLE)
def people_import_progress(request: HttpRequest, code: UUID) -> HttpResponse:
    imp = get_object_or_404(PersonImport, code=code)
    ctx = {"imp": imp, **_report(request, imp)}
    return render(request, "people/import_progress.html", ctx)


@requires(Capability.VIEW)
def panels(request: HttpRequest) -> HttpResponse:
    form = forms.PanelForm(request.POST or None)
    if request.method == "POST":
        if not can(request.user, Capability.MANAGE_PANELS):
            messages.error(request, "Your role does not allow this: manage panels.")
            return redirect("panels")
        if form.is_valid():
            panel = Panel.objects.create(
                name=form.cleaned_data["name"].strip(), description=form.cleaned_data["description"].strip()
            )
            messages.success(request, f"The panel {panel.name} was created.")
            return redirect("panel", code=panel.code)
    listed = Panel.objects.annotate(
        approved=Count("memberships", filter=Q(memberships__status=MembershipStatus.APPROVED)),
        pending=Count("memberships", filter=Q(memberships__status=MembershipStatus.PENDING_REVIEW)),
    )
    return render(request, "people/panels.html", {"section": "panels", "panels": listed, "form": form})


@requires(Capability.VIEW)
def panel(request: HttpRequest, code: UUID) -> HttpResponse:
    viewer = Viewer.of(request.user)
    panel = get_object_or_404(Panel, code=code)
    status = request.GET.get("status", MembershipStatus.APPROVED)
    status = status if status in MembershipStatus.values else MembershipStatus.APPROVED
    members = panel.memberships.filter(status=status).select_related("person").prefetch_related("person__emails")
    page = Paginator(members, 50).get_page(request.GET.get("page"))
    rows = [
        {"m": m, "name": name(viewer, m.person) or "—", "email": email(viewer, m.person.primary_email)} for m in page
    ]
    counts = dict(panel.memberships.values_list("status").annotate(n=Count("id")).order_by())
    tabs = [(s, label, counts.get(s, 0)) for s, label in MembershipStatus.choices]
    ctx = {
        "section": "panels",
        "panel": panel,
        "rows": rows,
        "page": page,
        "status": status,
        "tabs": tabs,
    }
    return render(request, "people/panel.html", ctx)


@require_POST
@requires(Capability.MANAGE_PANELS)
def panel_delete(request: HttpRequest, code: UUID) -> HttpResponse:
    panel = get_object_or_404(Panel, code=code)
    try:
        gone = membership.delete_panel(panel)
    except membership.Refused as e:
        messages.error(request, str(e))
        return redirect("panel", code=panel.code)
    messages.success(request, f"The panel {panel.name} was deleted; its {gone} members stay in Muster.")
    return redirect("panels")


@require_POST
@requires(Capability.MANAGE_PANELS)
def panel_member_update(request: HttpRequest, code: UUID, person_code: UUID) -> HttpResponse:
    m = get_object_or_404(PanelMembership, panel__code=code, person__code=person_code)
    status = request.POST.get("status", "")
    if status == "remove":
        membership.remove(m)
        messages.success(request, "Removed from the panel.")
        return redirect("panel", code=code)
    try:
        membership.decide(m, status, signed_in_user(request))
    except membership.Refused as e:
        messages.error(request, str(e))
        return redirect("panel", code=code)
    messages.success(request, f"Marked {m.get_status_display().lower()}.")
    return redirect(reverse("panel", args=[code]) + f"?status={request.POST.get('back', status)}")
