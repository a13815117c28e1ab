"""A study's Screener and Survey pages: Survey Tool, Qualtrics Survey, the questions with their
Property Mapping, the compatibility report, re-import and the dry run (issue 15).

One view serves both steps. Everyone may look; the forms are for roles that manage studies, the
survey picker also needs "use integrations", and Create Property its own capability.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from muster.accounts.decorators import requires, signed_in_user
from muster.accounts.roles import Capability, can, require
from muster.people.models import Property, PropertyType
from muster.people.properties import key_from
from muster.people.serialise import Viewer
from muster.people.writes import Policy
from muster.ratelimits import over, too_many_requests
from muster.studies import registry
from muster.studies.landing import handoff_path
from muster.studies.models import Study, StudyParticipant
from muster.studies.participants import Refused, is_participant_id
from muster.surveys import handoff as h
from muster.surveys import tools
from muster.surveys.attach import Owner, attach, attached_form, detach, reimport
from muster.surveys.compatibility import CHOICE_SHAPES, CREATED_TYPE, MANY, NotMappable, choices_of, refusal, shape
from muster.surveys.dryrun import LIMIT, DryRunResponse, dry_run
from muster.surveys.mappings import Wanted, save_mappings, suggest
from muster.surveys.models import MappingStatus, OwnerKind, Question, QuestionMapping, Response, SurveyForm
from muster.surveys.preview import preview_participant
from muster.surveys.questions import Links, QuestionDef, Support, SurveySummary

STEPS = {"screener": OwnerKind.SCREENER, "survey": OwnerKind.SURVEY}
CREATE = "__create__"  # the property select's "Create Property"

# What a re-import's flags mean, in plain words.
FLAGS = {
    "new": "New question",
    "removed": "Removed from the survey",
    "retyped": "Question type changed",
    "reworded": "Text changed",
    "choice_removed": "A choice was removed",
    "choice_added": "A choice was added",
    "choice_renamed": "A choice was renamed",
    "choice_recoded": "A choice's code changed",
    "part_removed": "A part was removed",
}

URL = re.compile(r"https?://[^\s<>\"“”]+")


@dataclass
class ChoiceRow:
    id: str
    label: str
    chosen: str  # an option's code, "yes"/"no" for a yes/no property, "" unmapped


@dataclass
class Row:
    """One mapping row: the question as a whole or one of its parts."""

    name: str  # the prefix of its fields
    qid: str
    part: str | None
    label: str
    mapping: QuestionMapping | None
    properties: list[tuple[Property, str]]  # (property, "" or why it no longer fits)
    chosen: str  # a property key, CREATE or ""
    policy: str
    create_key: str
    create_label: str
    create_type: str  # the type label Create Property would give
    is_choice: bool
    choices: list[ChoiceRow] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)  # what each choice may map to
    opts_for: str = ""  # the property the choice selects were drawn for
    offer_add: bool = False  # "Add to multi-select" makes sense here
    error: str = ""


@dataclass
class QuestionView:
    q: Question
    definition: QuestionDef
    flags: list[str]
    details: list[str]
    rows: list[Row]
    gone: list[QuestionMapping]  # mappings of a question no longer in the survey


@dataclass
class Posted:
    property: str
    key: str
    label: str
    policy: str
    options: dict[str, str]
    opts_for: str


def _study_and_owner(code: UUID, step: str) -> tuple[Study, Owner]:
    if step not in STEPS:
        raise Http404
    study = get_object_or_404(Study, code=code)
    return study, Owner(STEPS[step], study=study)


def step_url(study: Study, step: str) -> str:
    return reverse(f"study_{step}", args=[study.code])


@requires(Capability.VIEW)
def study_step(request: HttpRequest, code: UUID, step: str) -> HttpResponse:
    study, owner = _study_and_owner(code, step)
    if request.method == "POST":
        require(request.user, Capability.MANAGE_STUDIES)
        action = request.POST.get("action", "")
        if action == "attach":
            return _attach(request, study, owner, step)
        form = attached_form(owner)
        if form is None:
            messages.error(request, "No survey is attached to this step.")
            return redirect(step_url(study, step))
        if action == "detach":
            detach(form, signed_in_user(request))
            messages.success(
                request,
                f"“{form.survey_name}” is detached. Its responses, versions and mappings are kept; "
                "attach it again to bring it back.",
            )
            return redirect(step_url(study, step))
        if action == "reimport":
            return _reimport(request, study, form, step)
        if action == "mappings":
            return _save(request, study, owner, form, step)
        if action == "dry_run":
            return _dry_run(request, study, owner, form, step)
        if action == "preview":
            return _preview(request, study, step)
        messages.error(request, "Nothing to do.")
        return redirect(step_url(study, step))
    return render(request, "surveys/step.html", _context(request, study, owner, step))


def _attach(request: HttpRequest, study: Study, owner: Owner, step: str) -> HttpResponse:
    require(request.user, Capability.USE_INTEGRATIONS)
    tool_name = request.POST.get("tool", "")
    survey_id = request.POST.get("survey", "").strip()
    if not survey_id:
        messages.error(request, "Choose a survey to attach.")
        return redirect(step_url(study, step) + f"?tool={tool_name}")
    try:
        before = attached_form(owner)
        form = attach(owner, tool_name, survey_id, signed_in_user(request))
    except tools.ToolError as e:
        messages.error(request, f"The survey was not attached: {e}")
        return redirect(step_url(study, step) + f"?tool={tool_name}")
    if before is not None and before.id == form.id:
        messages.success(request, f"“{form.survey_name}” was already attached: it was re-imported.")
    else:
        n = form.questions.filter(removed=False).count()
        replaced = f" It replaces “{before.survey_name}”, which is kept detached." if before else ""
        messages.success(request, f"“{form.survey_name}” is attached: {n} questions imported.{replaced}")
    return redirect(step_url(study, step))


def _preview(request: HttpRequest, study: Study, step: str) -> HttpResponse:
    """The real participant path, from the start, as the user's test participant."""
    try:
        participant = preview_participant(study, signed_in_user(request))
    except Refused as e:
        messages.error(request, f"Preview is not possible: {e}")
        return redirect(step_url(study, step))
    return redirect(handoff_path(study, participant))


def _reimport(request: HttpRequest, study: Study, form: SurveyForm, step: str) -> HttpResponse:
    try:
        result = reimport(form)
    except tools.ToolError as e:
        messages.error(request, f"The survey was not re-imported: {e}")
        return redirect(step_url(study, step))
    form.refresh_from_db()
    number = form.version.number if form.version else 0
    if not result.changed:
        messages.success(request, f"Nothing changed in the survey (still version {number}); the report is refreshed.")
        return redirect(step_url(study, step))
    tags = dict(form.questions.values_list("qid", "export_tag"))
    said = [f"{tags.get(c['qid']) or c['qid']}: {c['detail']}" for c in result.changes[:10]]
    more = len(result.changes) - len(said)
    if more:
        said.append(f"And {more} more, flagged on the questions below.")
    text = f"Re-imported as version {number}. What changed: " + " ".join(said)
    if result.paused:
        paused = ", ".join(f"{tags.get(m.qid) or m.qid} → {m.property.label}" for m in result.paused)
        text += f" Paused until mapped again: {paused}."
        messages.warning(request, text)
    else:
        messages.success(request, text + " No mapping was paused.")
    return redirect(step_url(study, step))


def _posted(request: HttpRequest) -> dict[tuple[str, str], Posted]:
    post = request.POST
    out: dict[tuple[str, str], Posted] = {}
    for name in post.getlist("row"):
        prefix = f"{name}-"
        options = {k[len(prefix + "opt-") :]: post.get(k, "") for k in post if k.startswith(prefix + "opt-")}
        key = (post.get(prefix + "qid", ""), post.get(prefix + "part", ""))
        out[key] = Posted(
            property=post.get(prefix + "property", ""),
            key=post.get(prefix + "key", "").strip(),
            label=post.get(prefix + "label", "").strip(),
            policy=post.get(prefix + "policy", Policy.OVERWRITE),
            options=options,
            opts_for=post.get(prefix + "opts_for", ""),
        )
    return out


def _save(request: HttpRequest, study: Study, owner: Owner, form: SurveyForm, step: str) -> HttpResponse:
    posted = _posted(request)
    wanted: list[Wanted] = []
    keys: list[tuple[str, str]] = []
    for (qid, part), p in posted.items():
        if not p.property:
            continue  # not mapped: any mapping it had goes
        item = Wanted(qid, part or None, policy=p.policy)
        if p.property == CREATE:
            item.create = {"key": p.key, "label": p.label}
        else:
            item.property = p.property
            # Choice selects drawn for another property mean nothing for this one: suggest by label.
            if p.opts_for == p.property:
                item.options = p.options
        wanted.append(item)
        keys.append((qid, part))
    may_create = can(request.user, Capability.CREATE_PROPERTY_FROM_MAPPING)
    saved = save_mappings(form, wanted, signed_in_user(request), may_create=may_create)
    n, m = len(saved.mappings), len(saved.refused)
    if not m:
        messages.success(request, f"{n} mapping{'s' if n != 1 else ''} saved.")
        return redirect(step_url(study, step) + "#mapping")
    messages.warning(request, f"{n} mapping{'s' if n != 1 else ''} saved, {m} refused: see the reasons below.")
    errors = {keys[index]: reason for index, reason in saved.refused}
    refused = {k: posted[k] for k in errors}
    ctx = _context(request, study, owner, step, errors=errors, refused=refused)
    return render(request, "surveys/step.html", ctx)


def _dry_run(request: HttpRequest, study: Study, owner: Owner, form: SurveyForm, step: str) -> HttpResponse:
    try:
        limit = int(request.POST.get("limit", "10"))
    except ValueError:
        limit = 10
    limit = max(1, min(limit, LIMIT))
    try:
        results = dry_run(form, limit, Viewer.of(request.user))
    except tools.ToolError as e:
        messages.error(request, f"The dry run could not fetch responses: {e}")
        return redirect(step_url(study, step))
    ctx = _context(request, study, owner, step, dry=_dry_rows(form, results), limit=limit)
    return render(request, "surveys/step.html", ctx)


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "empty"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def _dry_rows(form: SurveyForm, results: list[DryRunResponse]) -> list[dict[str, Any]]:
    tags = dict(form.questions.values_list("qid", "export_tag"))
    labels = dict(Property.objects.values_list("key", "label"))
    return [
        {
            "r": r,
            "changes": [
                (labels.get(c["property"], c["property"]), _shown(c["old"]), _shown(c["new"])) for c in r.changes
            ],
            "refused": [
                (f"{tags.get(x['qid']) or x['qid']}{' · ' + x['part'] if x.get('part') else ''}", x["reason"])
                for x in r.refused
            ],
        }
        for r in results
    ]


def _context(
    request: HttpRequest,
    study: Study,
    owner: Owner,
    step: str,
    *,
    errors: dict[tuple[str, str], str] | None = None,
    refused: dict[tuple[str, str], Posted] | None = None,
    dry: list[dict[str, Any]] | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    form = attached_form(owner)
    manage = can(request.user, Capability.MANAGE_STUDIES)
    use = can(request.user, Capability.USE_INTEGRATIONS)
    installed = tools.choices()
    tool_name = form.tool if form else request.GET.get("tool", installed[0][0] if installed else "")
    tool = tools.tools.get(tool_name)
    ctx: dict[str, Any] = {
        "section": "studies",
        "study": study,
        "step": step,
        "step_label": OwnerKind(STEPS[step]).label,
        "tabs": registry.tabs_for(study, step),
        "form": form,
        "manage": manage,
        "installed": installed,
        "tool_name": tool_name,
        "tool": tool,
        "picking": manage and use and (form is None or "change" in request.GET),
        "dry": dry,
        "limit": limit,
        "limit_max": LIMIT,
    }
    if ctx["picking"] and tool is not None:
        ctx |= _picker(tool)
    if form is not None:
        ctx |= _attached(request, form, manage, errors or {}, refused or {})
    return ctx


def _picker(tool: tools.SurveyTool) -> dict[str, Any]:
    why = tool.unavailable()
    surveys: list[SurveySummary] = []
    error = ""
    if not why:
        try:
            surveys = tool.surveys()
        except tools.ToolError as e:
            error = str(e)
    return {"unavailable": why, "surveys": surveys, "surveys_error": error}


def _links(form: SurveyForm) -> Links | None:
    tool = tools.tools.get(form.tool)
    if tool is None:
        return None
    try:
        return tool.links(form.survey_id, form.base_url)
    except tools.ToolError:
        return None


def _fix(text: str) -> list[tuple[str, bool]]:
    """The fix text in pieces, each URL apart so the page can show it to copy."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for m in URL.finditer(text):
        url = m.group(0).rstrip(".,;)")
        pieces.append((text[at : m.start()], False))
        pieces.append((url, True))
        at = m.start() + len(url)
    pieces.append((text[at:], False))
    return [p for p in pieces if p[0]]


def _attached(
    request: HttpRequest,
    form: SurveyForm,
    manage: bool,
    errors: dict[tuple[str, str], str],
    refused: dict[tuple[str, str], Posted],
) -> dict[str, Any]:
    version = form.version
    report = [
        {"item": r["item"], "ok": r["ok"], "fix": _fix(r.get("fix", ""))} for r in (version.report if version else [])
    ]
    details: dict[str, list[str]] = {}
    for c in version.changes if version else []:
        details.setdefault(c["qid"], []).append(c["detail"])
    may_create = manage and can(request.user, Capability.CREATE_PROPERTY_FROM_MAPPING)
    props = list(Property.objects.prefetch_related("options"))
    taken = {p.key for p in props}
    mappings = {(m.qid, m.part): m for m in form.mappings.select_related("property")}
    questions = []
    n = 0
    for q in form.questions.all():
        definition = q.definition()
        rows = []
        if q.support == Support.SUPPORTED and not q.removed:
            targets: list[tuple[str | None, str]] = [(None, "Whole question")] if definition.whole else []
            targets += [(p.part, p.label) for p in definition.parts]
            for part, label in targets:
                try:
                    row_shape = shape(definition, part)
                except NotMappable:
                    continue
                key = (q.qid, part or "")
                rows.append(
                    _row(
                        f"m{n}",
                        definition,
                        part,
                        label,
                        row_shape,
                        mappings.get(key),
                        props,
                        taken,
                        may_create,
                        refused.get(key),
                        errors.get(key, ""),
                    )
                )
                n += 1
        gone = [m for (qid, _), m in mappings.items() if qid == q.qid and q.removed]
        flags = [FLAGS.get(f, f.replace("_", " ")) for f in q.flags]
        questions.append(QuestionView(q, definition, flags, details.get(q.qid, []), rows, gone))
    paused = [m for m in mappings.values() if m.status == MappingStatus.PAUSED]
    return {
        "version": version,
        "links": _links(form),
        "report": report,
        "report_ok": all(r["ok"] for r in report),
        "questions": questions,
        "mapped": sum(1 for m in mappings.values() if m.status == MappingStatus.ACTIVE),
        "paused": paused,
        "may_create": may_create,
        "policies": Policy.choices,
    }


def _create_label(question: QuestionDef, part: str | None) -> str:
    text = (question.plain_text or question.export_tag or question.qid).strip()
    found = question.part(part) if part else None
    return f"{text[:150]} – {found.label[:40]}" if found else text[:200]


def _free_key(label: str, taken: set[str]) -> str:
    base = key_from(label)[:60] or "property"
    key, i = base, 2
    while key in taken:
        key, i = f"{base}_{i}", i + 1
    return key


def _row(
    name: str,
    question: QuestionDef,
    part: str | None,
    label: str,
    row_shape: str,
    mapping: QuestionMapping | None,
    props: list[Property],
    taken: set[str],
    may_create: bool,
    posted: Posted | None,
    error: str,
) -> Row:
    offered: list[tuple[Property, str]] = []
    for prop in props:
        why = refusal(question, part, prop.type)
        if why is None:
            offered.append((prop, ""))
        elif mapping is not None and mapping.property_id == prop.id:
            # Kept in the list, so saving asks for it and is told why, rather than dropping it.
            offered.append((prop, why))
    create_label = _create_label(question, part)
    created = CREATED_TYPE[row_shape]
    row = Row(
        name=name,
        qid=question.qid,
        part=part,
        label=label,
        mapping=mapping,
        properties=offered,
        chosen=mapping.property.key if mapping else "",
        policy=mapping.policy if mapping else Policy.OVERWRITE,
        create_key=_free_key(create_label, taken),
        create_label=create_label,
        create_type=str(PropertyType(created).label).lower(),
        is_choice=row_shape in CHOICE_SHAPES,
        error=error,
    )
    if posted is not None:
        row.chosen = posted.property
        row.policy = posted.policy
        row.create_key = posted.key or row.create_key
        row.create_label = posted.label or row.create_label
    if not may_create and row.chosen == CREATE:
        row.chosen = ""
    chosen = next((p for p, _ in offered if p.key == row.chosen), None)
    if row.is_choice and chosen is not None and (chosen.is_select or chosen.type == PropertyType.BOOLEAN):
        _choice_rows(row, question, part, chosen, mapping, posted)
    row.offer_add = row_shape == MANY or any(p.type == PropertyType.MULTI_SELECT for p, _ in offered)
    return row


def _choice_rows(
    row: Row,
    question: QuestionDef,
    part: str | None,
    prop: Property,
    mapping: QuestionMapping | None,
    posted: Posted | None,
) -> None:
    choices = choices_of(question, part)
    options = [o for o in prop.options.all() if not o.retired]
    code_of = {o.id: str(o.code) for o in prop.options.all()}
    if prop.type == PropertyType.BOOLEAN:
        row.options = [("", "—"), ("yes", "Yes"), ("no", "No")]
        held = {k: ("yes" if v else "no") for k, v in (mapping.options if mapping else {}).items()}
        suggested: dict[str, str] = {}
    else:
        row.options = [("", "— not mapped")] + [(str(o.code), o.label) for o in options]
        held = {k: code_of.get(v, "") for k, v in (mapping.options if mapping else {}).items()}
        suggested = {k: code_of[v] for k, v in suggest(choices, prop).items()}
    same = mapping is not None and mapping.property_id == prop.id
    for c in choices:
        if posted is not None and posted.opts_for == prop.key and c.id in posted.options:
            chosen = posted.options[c.id]
        elif same:
            chosen = held.get(c.id, "")
        else:
            chosen = suggested.get(c.id, "")
        row.choices.append(ChoiceRow(c.id, c.label, chosen))
    row.opts_for = prop.key


def study_tab_url(step: str) -> Any:
    return lambda study: step_url(study, step)


@require_GET
def handoff(request: HttpRequest, slug: str, participant_id: str) -> HttpResponse:
    """A participant's link: records link_opened and sends them to their next form (DESIGN §5.4).

    A GET that records something, because it is the link invitations carry; recording is
    forward-only and idempotent, so a mail scanner opening it first only says "link opened" early.
    """
    participant = (
        StudyParticipant.objects.select_related("study").filter(participant_id=participant_id).first()
        if is_participant_id(participant_id)
        else None
    )
    if participant is None or participant.study.landing_slug != slug:
        # Guessing 128 bits is hopeless; slowing it down costs nobody with a real link anything.
        seconds = over(request, "handoff-miss", "60/m")
        if seconds:
            return too_many_requests(request, seconds)
        raise Http404("No such participant.")
    step = h.open_link(participant)
    if step.url:
        return redirect(step.url)
    ctx = {"study": participant.study, "message": step.message}
    return render(request, "surveys/handoff.html", ctx, status=step.status)


def person_responses(request: HttpRequest, person: Any) -> dict[str, Any]:
    """The Responses tab of a person's profile: every response they gave, across studies and panels."""
    rows = Response.objects.filter(person=person).select_related("form", "form__study").order_by("-recorded_at", "-id")
    return {"responses": rows[:200]}


def person_responses_summary(request: HttpRequest, person: Any) -> tuple[str, str]:
    return "Responses", str(Response.objects.filter(person=person).count())
