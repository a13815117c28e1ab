"""Attaching a tool's survey to a study step or a panel, re-importing it, detaching it (issue 15).

Every import keeps the definition as a version; a re-import says what changed from the last one
and pauses the mappings a change breaks (a removed or retyped question, a removed choice or part),
with the reason, until someone maps them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.timezone import now

from muster.accounts.models import User
from muster.people.models import Panel
from muster.studies.models import Study
from muster.surveys import tools
from muster.surveys.compatibility import refusal
from muster.surveys.models import (
    DefinitionVersion,
    MappingStatus,
    OwnerKind,
    Question,
    QuestionMapping,
    SurveyForm,
    default_participant_field,
    question_def,
    question_json,
)
from muster.surveys.questions import ImportedDefinition, Kind, QuestionDef


@dataclass(frozen=True)
class Owner:
    kind: str  # OwnerKind
    study: Study | None = None
    panel: Panel | None = None


def attached_form(owner: Owner) -> SurveyForm | None:
    forms = SurveyForm.objects.filter(detached_at=None, owner_kind=owner.kind)
    if owner.study is not None:
        return forms.filter(study=owner.study).select_related("version").first()
    return forms.filter(panel=owner.panel).select_related("version").first()


def attach(owner: Owner, tool_name: str, survey_id: str, by: User | None) -> SurveyForm:
    """Attaches the survey to the owner, replacing (detaching) another one; the same survey again
    is a re-import. ToolError when the tool cannot fetch it."""
    survey_id = survey_id.strip()
    current = attached_form(owner)
    if current is not None and current.tool == tool_name and current.survey_id == survey_id:
        reimport(current)
        return current
    tool = tools.get(tool_name)
    why = tool.unavailable()
    if why:
        raise tools.ToolError(why)
    participant_field = default_participant_field()
    imported = tool.definition(survey_id, participant_field)
    with transaction.atomic():
        if current is not None:
            detach(current, by)
        form = SurveyForm.objects.create(
            tool=tool_name,
            brand=imported.brand,
            survey_id=imported.survey_id,
            survey_name=imported.name,
            base_url=imported.base_url,
            owner_kind=owner.kind,
            study=owner.study,
            panel=owner.panel,
            participant_field=participant_field,
            attached_by=by,
        )
        _new_version(form, imported, [])
    return form


def detach(form: SurveyForm, by: User | None) -> None:
    """The step has no survey any more; the form stays, with its versions, mappings and responses."""
    SurveyForm.objects.filter(id=form.id, detached_at=None).update(detached_at=now(), detached_by=by)
    form.refresh_from_db(fields=["detached_at", "detached_by"])


@dataclass
class Reimported:
    changed: bool  # a new version was made
    changes: list[dict[str, str]]  # [{"qid", "change", "detail"}]
    paused: list[QuestionMapping]


def reimport(form: SurveyForm) -> Reimported:
    """Fetches the definition again; a different one becomes the form's new version."""
    tool = tools.get(form.tool)
    why = tool.unavailable()
    if why:
        raise tools.ToolError(why)
    imported = tool.definition(form.survey_id, form.participant_field)
    with transaction.atomic():
        form = SurveyForm.objects.select_for_update(of=("self",)).select_related("version").get(id=form.id)
        old = form.version
        if old is not None and old.digest == imported.digest:
            # The same definition; what the report checks (e.g. the survey's status) may still change.
            old.report = report_json(imported)
            old.fetched_at = now()
            old.save(update_fields=["report", "fetched_at"])
            return Reimported(False, [], [])
        before = old.question_defs() if old is not None else []
        changes = drift(before, list(imported.questions))
        version = _new_version(form, imported, changes)
        paused = _pause_broken(form, version, changes)
        SurveyForm.objects.filter(id=form.id).update(survey_name=imported.name, base_url=imported.base_url)
    return Reimported(True, changes, paused)


def report_json(imported: ImportedDefinition) -> list[dict[str, Any]]:
    return [{"item": r.item, "ok": r.ok, "fix": r.fix} for r in imported.report]


def _new_version(form: SurveyForm, imported: ImportedDefinition, changes: list[dict[str, str]]) -> DefinitionVersion:
    last = form.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = DefinitionVersion.objects.create(
        form=form,
        number=last + 1,
        digest=imported.digest,
        last_modified=imported.last_modified,
        questions=[question_json(q) for q in imported.questions],
        report=report_json(imported),
        changes=changes,
    )
    SurveyForm.objects.filter(id=form.id).update(version=version)
    form.version = version
    _sync_questions(form, list(imported.questions), changes)
    return version


def _sync_questions(form: SurveyForm, questions: list[QuestionDef], changes: list[dict[str, str]]) -> None:
    flags: dict[str, list[str]] = {}
    for c in changes:
        flags.setdefault(c["qid"], []).append(c["change"])
    held = {q.qid: q for q in form.questions.all()}
    present = set()
    for q in questions:
        present.add(q.qid)
        data = question_json(q)
        fields = {k: data[k] for k in ("export_tag", "text", "plain_text", "kind", "tool_kind", "reason")}
        fields |= {"choices": data["choices"], "parts": data["parts"], "whole": q.whole, "position": q.position}
        fields |= {"support": q.support, "removed": False, "flags": flags.get(q.qid, [])}
        row = held.get(q.qid)
        if row is None:
            Question.objects.create(form=form, qid=q.qid, **fields)
        else:
            for name, value in fields.items():
                setattr(row, name, value)
            row.save()
    gone = [row for qid, row in held.items() if qid not in present]
    for row in gone:
        if not row.removed:
            row.removed = True
            row.flags = flags.get(row.qid, ["removed"])
            row.save(update_fields=["removed", "flags"])


def drift(before: list[QuestionDef], after: list[QuestionDef]) -> list[dict[str, str]]:
    """What changed between two definitions, by QID and choice id (never by label)."""
    old = {q.qid: q for q in before}
    new = {q.qid: q for q in after}
    changes: list[dict[str, str]] = []

    def say(qid: str, change: str, detail: str, id: str = "") -> None:
        changes.append({"qid": qid, "change": change, "detail": detail, **({"id": id} if id else {})})

    for q in after:
        was = old.get(q.qid)
        if was is None:
            say(q.qid, "new", "A new question.")
            continue
        if was.kind != q.kind:
            say(q.qid, "retyped", f"It was {_kind(was)} and is now {_kind(q)}.")
            continue
        old_choices = {c.id: c for c in was.choices}
        new_choices = {c.id: c for c in q.choices}
        for cid, c in old_choices.items():
            if cid not in new_choices:
                say(q.qid, "choice_removed", f"The choice “{c.label}” was removed.", cid)
            elif new_choices[cid].label != c.label:
                say(q.qid, "choice_renamed", f"“{c.label}” is now “{new_choices[cid].label}”; its mappings stay.", cid)
            elif new_choices[cid].recode != c.recode:
                say(q.qid, "choice_recoded", f"“{c.label}” now carries the code {new_choices[cid].recode}.", cid)
        for cid, c in new_choices.items():
            if cid not in old_choices:
                say(q.qid, "choice_added", f"A new choice “{c.label}”.", cid)
        old_parts = {p.part: p for p in was.parts}
        new_parts = {p.part for p in q.parts}
        for name, p in old_parts.items():
            if name not in new_parts and name not in {f"{c}_text" for c in old_choices if c not in new_choices}:
                say(q.qid, "part_removed", f"The part “{p.label}” was removed.", name)
        if was.plain_text != q.plain_text:
            say(q.qid, "reworded", "The question's text changed.")
    for q in before:
        if q.qid not in new:
            say(q.qid, "removed", "The question was removed from the survey.")
    return changes


def _kind(q: QuestionDef) -> str:
    return str(Kind(q.kind).label).lower() if q.kind in Kind.values else q.kind


BREAKING = {"removed", "retyped", "choice_removed", "part_removed"}


def _pause_broken(form: SurveyForm, version: DefinitionVersion, changes: list[dict[str, str]]) -> list[QuestionMapping]:
    """Pauses each mapping a breaking change touches, with the reason; the others keep working."""
    by_qid: dict[str, list[dict[str, str]]] = {}
    for c in changes:
        if c["change"] in BREAKING:
            by_qid.setdefault(c["qid"], []).append(c)
    questions = {q["qid"]: question_def(q) for q in version.questions}
    paused = []
    for m in form.mappings.filter(status=MappingStatus.ACTIVE, qid__in=list(by_qid)).select_related("property"):
        reasons = []
        for c in by_qid[m.qid]:
            whole = c["change"] in ("removed", "retyped")
            choice = c["change"] == "choice_removed" and c["id"] in m.options
            part = c["change"] == "part_removed" and c["id"] == m.part
            if whole or choice or part:
                reasons.append(c["detail"])
        q = questions.get(m.qid)
        if q is not None and not reasons:
            why = refusal(q, m.part or None, m.property.type)
            if why:
                reasons.append(why)
        if reasons:
            m.status = MappingStatus.PAUSED
            m.paused_reason = " ".join(reasons) + " Map it again to resume it."
            m.save(update_fields=["status", "paused_reason"])
            paused.append(m)
    return paused


__all__ = ["OwnerKind", "attach", "detach", "reimport"]
