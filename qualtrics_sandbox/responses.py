"""Turning submitted answers into a stored response keyed as Qualtrics keys them.

Keys follow REFERENCE §7.3: MC single `QIDn` = recode value; MC multi `QIDn` = list of
choice-id strings; text `QIDn_TEXT`; form, slider, rank and matrix rows
`QIDn_{choiceId}`; other-text `QIDn_{choiceId}_TEXT`; NPS adds `QIDn_NPS_GROUP`;
Drill Down one key per level `QIDn_{levelId}` = the chosen item's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import definitions as d
from .clock import iso_millis, iso_seconds, parse_iso

JSON = dict[str, Any]


# Response types (values.status): the CSV recordings show "IP Address" and "Survey Preview".
STATUS_CODES = {"preview": 1, "test": 2}
STATUS_LABELS = {0: "IP Address", 1: "Survey Preview", 2: "Survey Test"}


class InvalidAnswerError(ValueError):
    """A submitted value does not fit the survey's definition."""


@dataclass
class Submission:
    values: JSON
    embedded_data: JSON = field(default_factory=dict)
    finished: bool = True
    recorded_at: datetime | None = None
    start_date: str | None = None
    duration: int | None = None
    progress: int | None = None
    ip_address: str = "127.0.0.1"
    distribution_channel: str = "anonymous"
    user_language: str = "EN"


def nps_group(score: int) -> int:
    if score <= 6:
        return 1
    if score <= 8:
        return 2
    return 3


@dataclass
class Question:
    """One live, answerable question with everything keying needs worked out once."""

    qid: str
    data: JSON
    kind: str
    choices: list[tuple[str, JSON]]
    labels: dict[str, str]
    recodes: dict[str, str]
    answers: list[tuple[str, JSON]]
    answer_labels: dict[str, str]
    answer_recodes: dict[str, str]
    text_entry: list[str]
    low: float = 0.0
    high: float = 100.0
    parents: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, qid: str, data: JSON) -> Question:
        found = d.choices(data)
        answer_list = d.answers(data)
        recode_values = data.get("RecodeValues") or {}
        low, high = d.slider_range(data)
        if d.question_kind(data) == "constant_sum":
            low, high = 0.0, d.constant_sum_total(data) or 100.0
        return cls(
            qid=qid,
            data=data,
            kind=d.question_kind(data),
            choices=found,
            labels={cid: d.plain_text(d.display(c)) for cid, c in found},
            recodes={cid: d.recode(data, cid) for cid, _ in found},
            answers=answer_list,
            answer_labels={aid: d.plain_text(d.display(a)) for aid, a in answer_list},
            answer_recodes={aid: str(recode_values.get(aid, aid)) for aid, _ in answer_list},
            text_entry=[cid for cid, c in found if d.has_text_entry(c)],
            low=low,
            high=high,
            parents=d.answer_parents(data) if d.question_kind(data) == "drill_down" else {},
        )

    def children(self, parent: str | None) -> list[str]:
        """Drill Down items directly under `parent` (None: the top level), in order."""
        return [aid for aid, _ in self.answers if self.parents.get(aid) == parent]

    def answer_of(self, code: Any) -> str | None:
        """The answer id whose code (recode) is `code`."""
        wanted = str(code)
        return next((aid for aid, found in self.answer_recodes.items() if found == wanted), None)

    @property
    def text(self) -> str:
        return d.plain_text(str(self.data.get("QuestionText", "")))

    @property
    def tag(self) -> str:
        return str(self.data.get("DataExportTag") or self.qid)

    @property
    def forced(self) -> bool:
        settings = (self.data.get("Validation") or {}).get("Settings") or {}
        return settings.get("ForceResponse") == "ON"


@dataclass
class Compiled:
    """A survey definition read once, for keying many responses quickly."""

    definition: JSON
    questions: list[Question]
    declared: list[str]
    displayed_fields: list[str]
    displayed_values: JSON

    def question(self, qid: str) -> Question | None:
        return next((q for q in self.questions if q.qid == qid), None)


def compile_survey(definition: JSON) -> Compiled:
    found: list[Question] = []
    fields: list[str] = []
    shown: JSON = {}
    for qid in d.live_question_ids(definition):
        question = Question.of(qid, d.questions(definition)[qid])
        if question.kind == "other":
            continue
        found.append(question)
        fields.extend(fields_of(question))
        shown.update(_displayed_values(question))
    return Compiled(definition, found, d.embedded_field_names(definition), fields, shown)


def fields_of(q: Question) -> list[str]:
    """Every value key a question can produce (its displayedFields)."""
    qid = q.qid
    ids = [cid for cid, _ in q.choices]
    if q.kind in ("mc_single", "mc_multi"):
        return [qid, *(f"{qid}_{cid}_TEXT" for cid in q.text_entry)]
    if q.kind == "nps":
        return [f"{qid}_NPS_GROUP", qid]
    if q.kind == "text":
        return [f"{qid}_TEXT"]
    if q.kind in ("form", "slider", "rank", "matrix_single", "constant_sum", "drill_down"):
        return [f"{qid}_{cid}" for cid in ids]
    if q.kind == "matrix_multi":
        return [f"{qid}_{cid}_{aid}" for cid in ids for aid, _ in q.answers]
    return []


def _recoded_choice(q: Question, raw: Any, key: str) -> str:
    wanted = str(raw)
    for cid, code in q.recodes.items():
        if code == wanted:
            return cid
    raise InvalidAnswerError(f"{key}: {raw!r} is not a recode value of this question")


def _answer_question(q: Question, given: JSON, values: JSON, labels: JSON) -> None:
    """Move this question's keys from `given` into `values` and `labels`."""
    qid, kind = q.qid, q.kind
    if kind in ("mc_single", "nps") and qid in given:
        raw = given.pop(qid)
        cid = _recoded_choice(q, raw, qid)
        number = d.as_number(q.recodes[cid])
        values[qid] = number
        labels[qid] = q.labels[cid]
        if kind == "nps":
            if not isinstance(number, int) or not 0 <= number <= 10:
                raise InvalidAnswerError(f"{qid}: NPS scores run from 0 to 10")
            group = nps_group(number)
            values[f"{qid}_NPS_GROUP"] = group
            labels[f"{qid}_NPS_GROUP"] = d.NPS_GROUPS[group]
    elif kind == "mc_multi" and qid in given:
        raw = given.pop(qid)
        picked = {str(x) for x in (raw if isinstance(raw, list) else [raw])}
        unknown = sorted(picked - set(q.labels))
        if unknown:
            raise InvalidAnswerError(f"{qid}: unknown choice ids {unknown}")
        ordered = [cid for cid, _ in q.choices if cid in picked]
        values[qid] = ordered
        labels[qid] = [q.labels[cid] for cid in ordered]
    elif kind == "text":
        for key in (f"{qid}_TEXT", qid):
            if key in given:
                values[f"{qid}_TEXT"] = str(given.pop(key))
    elif kind == "form":
        for cid, _ in q.choices:
            # Accept the _TEXT spelling too; stored as QIDn_{choiceId} (our choice, see README).
            for key in (f"{qid}_{cid}", f"{qid}_{cid}_TEXT"):
                if key in given:
                    values[f"{qid}_{cid}"] = str(given.pop(key))
    elif kind in ("slider", "constant_sum"):
        for cid, _ in q.choices:
            key = f"{qid}_{cid}"
            if key in given:
                number = given.pop(key)
                if isinstance(number, bool) or not isinstance(number, int | float) or not q.low <= number <= q.high:
                    raise InvalidAnswerError(f"{key}: {number!r} is outside {q.low:g}..{q.high:g}")
                values[key] = number
    elif kind == "rank":
        ranks = {cid: given.pop(f"{qid}_{cid}") for cid, _ in q.choices if f"{qid}_{cid}" in given}
        if ranks:
            if sorted(ranks.values()) != list(range(1, len(q.choices) + 1)):
                raise InvalidAnswerError(f"{qid}: ranks must be 1..{len(q.choices)}, each once")
            for cid, _ in q.choices:
                values[f"{qid}_{cid}"] = ranks[cid]
    elif kind == "matrix_single":
        for cid, _ in q.choices:
            key = f"{qid}_{cid}"
            if key in given:
                raw = str(given.pop(key))
                aid = next((a for a, code in q.answer_recodes.items() if code == raw), None)
                if aid is None:
                    raise InvalidAnswerError(f"{key}: {raw!r} is not an answer of this matrix")
                values[key] = d.as_number(raw)
                labels[key] = q.answer_labels[aid]
    elif kind == "matrix_multi":
        for cid, _ in q.choices:
            for aid, _ in q.answers:
                key = f"{qid}_{cid}_{aid}"
                if key in given:
                    given.pop(key)
                    values[key] = 1
                    labels[key] = q.answer_labels[aid]
    elif kind == "drill_down":
        _answer_drill_down(q, given, values, labels)
    if kind == "constant_sum":
        total = d.constant_sum_total(q.data)
        entered = sum(values.get(f"{qid}_{cid}", 0) for cid, _ in q.choices)
        if total is not None and any(f"{qid}_{cid}" in values for cid, _ in q.choices) and entered != total:
            raise InvalidAnswerError(f"{qid}: the amounts must add up to {total:g}")
    if kind in ("mc_single", "mc_multi"):
        for cid in q.text_entry:
            key = f"{qid}_{cid}_TEXT"
            if key in given:
                values[key] = str(given.pop(key))


def _answer_drill_down(q: Question, given: JSON, values: JSON, labels: JSON) -> None:
    """One key per level, answered from the top: each item must sit under the one above it."""
    parent: str | None = None
    skipped: str | None = None
    for cid, _ in q.choices:
        key = f"{q.qid}_{cid}"
        if key not in given:
            skipped = skipped or key
            continue
        raw = given.pop(key)
        if skipped:
            raise InvalidAnswerError(f"{key}: answer {skipped} first (levels are answered from the top)")
        aid = q.answer_of(raw)
        if aid is None or q.parents.get(aid) != parent:
            where = "the top level" if parent is None else f"{q.answer_labels[parent]!r}"
            raise InvalidAnswerError(f"{key}: {raw!r} is not an item under {where}")
        values[key] = d.as_number(q.answer_recodes[aid])
        labels[key] = q.answer_labels[aid]
        parent = aid


def _displayed_values(q: Question) -> JSON:
    if q.kind in ("mc_single", "nps", "mc_multi"):
        return {q.qid: [d.as_number(q.recodes[cid]) for cid, _ in q.choices]}
    if q.kind == "matrix_single":
        columns = [d.as_number(aid) for aid, _ in q.answers]
        return {f"{q.qid}_{cid}": columns for cid, _ in q.choices}
    if q.kind == "drill_down":
        # Per level, the codes of the items at that depth (our choice).
        shown: JSON = {}
        level: list[str | None] = [None]
        for cid, _ in q.choices:
            items = [aid for parent in level for aid in q.children(parent)]
            shown[f"{q.qid}_{cid}"] = [d.as_number(q.answer_recodes[aid]) for aid in items]
            level = list(items)
        return shown
    if q.kind == "rank":
        positions = list(range(1, len(q.choices) + 1))
        return {f"{q.qid}_{cid}": positions for cid, _ in q.choices}
    return {}


def build_response(definition: JSON | Compiled, response_id: str, submission: Submission, moment: datetime) -> JSON:
    """The stored response object: responseId, values, labels, displayedFields, displayedValues."""
    survey = definition if isinstance(definition, Compiled) else compile_survey(definition)
    given = dict(submission.values)
    declared = survey.declared
    # Embedded data may also come inside values; undeclared fields are dropped,
    # as Qualtrics drops undeclared URL parameters.
    embedded = {k: given.pop(k) for k in list(given) if k in declared}
    embedded.update({k: v for k, v in submission.embedded_data.items() if k in declared})

    answer_values: JSON = {}
    labels: JSON = {}
    for question in survey.questions:
        _answer_question(question, given, answer_values, labels)
    if given:
        raise InvalidAnswerError(f"unknown keys for this survey: {sorted(given)}")

    recorded_at = submission.recorded_at or moment
    duration = submission.duration if submission.duration is not None else 60
    if submission.start_date:
        start = parse_iso(submission.start_date)
        duration = max(0, int((recorded_at - start).total_seconds()))
    else:
        start = recorded_at - timedelta(seconds=duration)
    if submission.progress is not None:
        progress = submission.progress
    elif submission.finished:
        progress = 100
    else:
        answered = {key.split("_")[0] for key in answer_values}
        progress = int(100 * len(answered) / len(survey.questions)) if survey.questions else 0

    status = STATUS_CODES.get(submission.distribution_channel, 0)
    values: JSON = {
        "startDate": iso_seconds(start),
        "endDate": iso_seconds(recorded_at),
        "status": status,
        "ipAddress": submission.ip_address,
        "progress": progress,
        "duration": duration,
        "finished": 1 if submission.finished else 0,
        "recordedDate": iso_millis(recorded_at),
        "_recordId": response_id,
        "locationLatitude": "52.5200",
        "locationLongitude": "13.4050",
        "distributionChannel": submission.distribution_channel,
        "userLanguage": submission.user_language,
    }
    values.update(answer_values)
    for name in declared:
        if name in embedded:
            values[name] = str(embedded[name])
    all_labels = {"status": STATUS_LABELS[status], "finished": "True" if submission.finished else "False"}
    all_labels.update(labels)
    return {
        "responseId": response_id,
        "values": values,
        "labels": all_labels,
        "displayedFields": survey.displayed_fields,
        "displayedValues": survey.displayed_values,
    }
