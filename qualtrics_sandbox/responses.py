"""Turning submitted answers into a stored response keyed as Qualtrics keys them.

Keys follow REFERENCE §7.3: MC single `QIDn` = recode value; MC multi `QIDn` = list of
choice-id strings; text `QIDn_TEXT`; form, slider, rank and matrix rows
`QIDn_{choiceId}`; a choice's text entry `QIDn_{choiceId}_TEXT`; NPS adds `QIDn_NPS_GROUP`;
Drill Down one key per level `QIDn_{levelId}` = the chosen item's code.

Every answer is checked against the survey's own rules while the flow is walked (logic.py):
keys of questions the respondent never saw are refused, an exclusive choice stands alone,
content validation holds, and a finished response answers every forced question it showed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from . import definitions as d
from .clock import iso_millis, iso_seconds, parse_iso
from .logic import Chooser, InferringChooser, RandomizerError, Walk

JSON = dict[str, Any]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ZIP = re.compile(r"^\d{5}(-\d{4})?$")

# Response types (values.status) as a real export's value labels list them (REFERENCE §13:
# "Spam" and channels beyond anonymous are recorded). name -> (distributionChannel, status).
RESPONSE_TYPES = {
    "anonymous": ("anonymous", 0),
    "social": ("social", 0),
    "email": ("email", 0),
    "preview": ("preview", 1),
    "test": ("test", 2),
    "spam": ("anonymous", 8),
    "api": ("api", 0),
}
STATUS_LABELS = {0: "IP Address", 1: "Survey Preview", 2: "Survey Test", 4: "Imported", 8: "Spam"}
RECIPIENT_KEYS = ("recipientLastName", "recipientFirstName", "recipientEmail", "externalDataReference")
# Metadata an anonymised survey (SurveyOptions.AnonymizeResponse) does not record.
PERSONAL_KEYS = ("ipAddress", "locationLatitude", "locationLongitude", *RECIPIENT_KEYS)
# Kinds whose choices may carry a text box (`QIDn_{c}_TEXT`).
TEXT_ENTRY_KINDS = {"mc_single", "mc_multi", "matrix_single", "matrix_multi", "rank", "constant_sum", "slider"}


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
    response_type: str = "anonymous"
    user_language: str = "EN"
    recipient: JSON = field(default_factory=dict)
    # False for the v3 create-response call: it stores values as given (no forced-response check).
    rules: bool = True


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
    exclusive: set[str] = field(default_factory=set)
    randomized: bool = False
    # Carry-forward: (source question id, which of its choices), e.g. ("QID1", "SelectedChoices").
    carried: tuple[str, str] | None = None
    fields: list[str] = field(default_factory=list)
    shown_values: JSON = field(default_factory=dict)
    source_recodes: dict[str, str] = field(default_factory=dict)
    forced: bool = False
    # Choice ids in order, worked out once (offered() is hot in bulk runs).
    ids: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, qid: str, data: JSON) -> Question:
        found = d.choices(data)
        answer_list = d.answers(data)
        recode_values = data.get("RecodeValues") or {}
        low, high = d.slider_range(data)
        kind = d.question_kind(data)
        if kind == "constant_sum":
            low, high = 0.0, d.constant_sum_total(data) or 100.0
        randomization = data.get("Randomization")
        carried = None
        dynamic = data.get("DynamicChoices")
        if isinstance(dynamic, dict):
            found_locator = re.match(r"^q://(QID\d+)/ChoiceGroup/(\w+)$", str(dynamic.get("Locator", "")))
            if found_locator:
                carried = (found_locator.group(1), found_locator.group(2))
        return cls(
            qid=qid,
            data=data,
            kind=kind,
            choices=found,
            labels={cid: d.plain_text(d.display(c)) for cid, c in found},
            recodes={cid: d.recode(data, cid) for cid, _ in found},
            answers=answer_list,
            answer_labels={aid: d.plain_text(d.display(a)) for aid, a in answer_list},
            answer_recodes={aid: str(recode_values.get(aid, aid)) for aid, _ in answer_list},
            text_entry=[cid for cid, c in found if d.has_text_entry(c)] if kind in TEXT_ENTRY_KINDS else [],
            low=low,
            high=high,
            parents=d.answer_parents(data) if kind == "drill_down" else {},
            exclusive={cid for cid, c in found if c.get("ExclusiveAnswer") in (True, "true", "1", 1)},
            randomized=isinstance(randomization, dict) and randomization.get("Type") == "All",
            carried=carried,
            forced=d.validation_settings(data).get("ForceResponse") == "ON",
        )

    def carry_from(self, source: Question) -> None:
        """Carried-forward choices come first, with ids `x{choiceId}` (our reading), then the question's own."""
        carried = [(f"x{cid}", choice) for cid, choice in source.choices]
        self.choices = carried + self.choices
        self.source_recodes = dict(source.recodes)
        for cid, _ in carried:
            self.labels[cid] = source.labels[cid[1:]]
            self.recodes[cid] = d.recode(self.data, cid)

    def offered(self, answers: JSON) -> list[str]:
        """The choice ids this respondent sees (carry-forward depends on earlier answers)."""
        if self.carried is None:
            return self.ids
        ids = self.ids
        source, mode = self.carried
        picked = answers.get(source)
        if isinstance(picked, list):
            chosen = {str(p) for p in picked}
        elif picked is None:
            chosen = set()
        else:
            chosen = {cid for cid, code in self.source_recodes.items() if code == str(picked)}
        if mode == "SelectedChoices":
            return [cid for cid in ids if not cid.startswith("x") or cid[1:] in chosen]
        if mode == "UnselectedChoices":
            return [cid for cid in ids if not cid.startswith("x") or cid[1:] not in chosen]
        return ids

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
    def coded(self) -> bool:
        """Answers are codes (choices, scales, ranks), not free text."""
        return self.kind not in ("text", "form")


@dataclass
class Compiled:
    """A survey definition read once, for keying many responses quickly."""

    definition: JSON
    questions: list[Question]
    declared: list[str]
    displayed_fields: list[str]
    displayed_values: JSON
    by_qid: dict[str, Question] = field(default_factory=dict)
    trashed: set[str] = field(default_factory=set)
    anonymized: bool = False
    # Any display or branch logic at all: without it a walk need not track what was answered.
    has_logic: bool = True
    # Per block, its pages as (question id, answerable question or None, definition, display logic).
    block_pages: dict[str, list[list[tuple[str, Question | None, JSON, Any]]]] = field(default_factory=dict)

    def question(self, qid: str) -> Question | None:
        return self.by_qid.get(qid)

    def pages_of(self, block: JSON) -> list[list[tuple[str, Question | None, JSON, Any]]]:
        """A block split at page breaks, worked out once per survey (walks are hot in bulk runs)."""
        key = str(block.get("ID"))
        if key not in self.block_pages:
            pages: list[list[tuple[str, Question | None, JSON, Any]]] = [[]]
            questions = d.questions(self.definition)
            for element in block.get("BlockElements") or []:
                if not isinstance(element, dict):
                    continue
                if element.get("Type") == "Page Break":
                    pages.append([])
                    continue
                qid = str(element.get("QuestionID"))
                data = questions.get(qid)
                if isinstance(data, dict) and qid not in self.trashed:
                    pages[-1].append((qid, self.by_qid.get(qid), data, data.get("DisplayLogic")))
            self.block_pages[key] = [page for page in pages if page]
        return self.block_pages[key]


def compile_survey(definition: JSON) -> Compiled:
    found: list[Question] = []
    fields: list[str] = []
    shown: JSON = {}
    by_qid: dict[str, Question] = {}
    for qid in d.live_question_ids(definition):
        question = Question.of(qid, d.questions(definition)[qid])
        if question.kind == "other":
            continue
        if question.carried is not None and question.carried[0] in by_qid:
            question.carry_from(by_qid[question.carried[0]])
        elif question.carried is not None:
            question.carried = None
        question.ids = [cid for cid, _ in question.choices]
        question.fields = fields_of(question)
        question.shown_values = _displayed_values(question)
        found.append(question)
        by_qid[qid] = question
        fields.extend(question.fields)
        shown.update(question.shown_values)
    options = definition.get("SurveyOptions") or {}
    logic = any(isinstance(q, dict) and q.get("DisplayLogic") for q in d.questions(definition).values())
    logic = logic or '"Branch"' in orjson.dumps(definition.get("SurveyFlow")).decode()
    return Compiled(
        definition,
        found,
        d.embedded_field_names(definition),
        fields,
        shown,
        by_qid,
        d.trashed_question_ids(definition),
        str(options.get("AnonymizeResponse", "No")).lower() in ("yes", "true"),
        logic,
    )


def fields_of(q: Question) -> list[str]:
    """Every value key a question can produce (its displayedFields)."""
    qid = q.qid
    ids = [cid for cid, _ in q.choices]
    texts = [f"{qid}_{cid}_TEXT" for cid in q.text_entry]
    if q.kind in ("mc_single", "mc_multi"):
        return [qid, *texts]
    if q.kind == "nps":
        return [f"{qid}_NPS_GROUP", qid]
    if q.kind == "text":
        return [f"{qid}_TEXT"]
    if q.kind in ("form", "drill_down"):
        return [f"{qid}_{cid}" for cid in ids]
    if q.kind in ("slider", "rank", "matrix_single", "constant_sum"):
        return [f"{qid}_{cid}" for cid in ids] + texts
    if q.kind == "matrix_multi":
        return [f"{qid}_{cid}_{aid}" for cid in ids for aid, _ in q.answers] + texts
    return []


def _recoded_choice(q: Question, raw: Any, key: str, offered: list[str]) -> str:
    wanted = str(raw)
    for cid in offered:
        if q.recodes[cid] == wanted:
            return cid
    raise InvalidAnswerError(f"{key}: {raw!r} is not a recode value of a choice this respondent saw")


def _check_text(q: Question, key: str, text: str) -> None:
    """Content validation (Validation.Settings) of a text entry, as the survey page enforces it."""
    settings = d.validation_settings(q.data)
    content = settings.get("ContentType") if settings.get("Type") == "ContentType" else None
    if content == "ValidEmailAddress" and not EMAIL.match(text):
        raise InvalidAnswerError(f"{key}: please enter a valid email address, like name@example.org")
    if content == "ValidZip" and not ZIP.match(text):
        raise InvalidAnswerError(f"{key}: please enter a valid zip code")
    if content == "ValidNumber":
        bounds = settings.get("ValidNumber") or {}
        try:
            number = float(text)
        except ValueError:
            raise InvalidAnswerError(f"{key}: please enter a number") from None
        low, high = bounds.get("Min"), bounds.get("Max")
        if low not in (None, "") and number < float(low):
            raise InvalidAnswerError(f"{key}: please enter a number of at least {low}")
        if high not in (None, "") and number > float(high):
            raise InvalidAnswerError(f"{key}: please enter a number of at most {high}")


def _answer_question(q: Question, given: JSON, values: JSON, labels: JSON, offered: list[str]) -> None:
    """Move this question's keys from `given` into `values` and `labels`."""
    qid, kind = q.qid, q.kind
    if kind in ("mc_single", "nps") and qid in given:
        raw = given.pop(qid)
        cid = _recoded_choice(q, raw, qid, offered)
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
        unknown = sorted(picked - set(offered))
        if unknown:
            raise InvalidAnswerError(f"{qid}: unknown choice ids {unknown}")
        lone = picked & q.exclusive
        if lone and len(picked) > 1:
            name = q.labels[sorted(lone)[0]]
            raise InvalidAnswerError(f"{qid}: {name!r} is an exclusive answer and cannot be combined with others")
        ordered = [cid for cid, _ in q.choices if cid in picked]
        values[qid] = ordered
        labels[qid] = [q.labels[cid] for cid in ordered]
    elif kind == "text":
        for key in (f"{qid}_TEXT", qid):
            if key in given:
                text = str(given.pop(key))
                _check_text(q, key, text)
                values[f"{qid}_TEXT"] = text
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
    # The same codes as `values`: recodes for single answers, choice-id strings for multi answers.
    if q.kind in ("mc_single", "nps"):
        return {q.qid: [d.as_number(q.recodes[cid]) for cid, _ in q.choices]}
    if q.kind == "mc_multi":
        return {q.qid: [cid for cid, _ in q.choices]}
    if q.kind == "matrix_single":
        columns = [d.as_number(q.answer_recodes[aid]) for aid, _ in q.answers]
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


def _has_answer(q: Question, values: JSON) -> bool:
    return any(key in values for key in q.fields if not key.endswith("_TEXT") or q.kind == "text")


def _complete(q: Question, values: JSON) -> bool:
    """Forced response: every part of a form, matrix or slider; a Drill Down to a leaf or the last level."""
    if q.kind in ("form", "matrix_single", "slider", "constant_sum", "rank"):
        return all(f"{q.qid}_{cid}" in values for cid, _ in q.choices)
    if q.kind == "matrix_multi":
        return all(any(f"{q.qid}_{cid}_{aid}" in values for aid, _ in q.answers) for cid, _ in q.choices)
    if q.kind == "drill_down":
        picked = [values[f"{q.qid}_{cid}"] for cid, _ in q.choices if f"{q.qid}_{cid}" in values]
        if not picked:
            return False
        last = q.answer_of(picked[-1])
        return len(picked) == len(q.choices) or (last is not None and not q.children(last))
    return _has_answer(q, values)


def walk_answers(survey: Compiled, given: JSON, chooser: Chooser | None = None) -> Walk:
    try:
        return Walk(survey, given, chooser or InferringChooser()).finish()
    except RandomizerError as exc:
        raise InvalidAnswerError(str(exc)) from None


def build_response(
    definition: JSON | Compiled,
    response_id: str,
    submission: Submission,
    moment: datetime,
    chooser: Chooser | None = None,
    walked: Walk | None = None,
) -> tuple[JSON, JSON]:
    """(the stored response object, its extras: display orders) for one respondent.

    `chooser` holds the respondent's randomizer and choice-order decisions; without it they are
    inferred from the answers (a typed `respond`).
    """
    survey = definition if isinstance(definition, Compiled) else compile_survey(definition)
    given = dict(submission.values)
    declared = survey.declared
    # Embedded data may also come inside values; undeclared fields are dropped,
    # as Qualtrics drops undeclared URL parameters.
    embedded = {k: str(given.pop(k)) for k in list(given) if k in declared}
    embedded.update({k: str(v) for k, v in submission.embedded_data.items() if k in declared})

    # A simulated respondent has walked already (`walked`); a typed one is walked here.
    walk = walked if walked is not None else walk_answers(survey, given, chooser)
    original = dict(given)
    shown = set(walk.shown)
    answer_values: JSON = {}
    labels: JSON = {}
    for question in survey.questions:
        if question.qid in shown:
            _answer_question(question, given, answer_values, labels, question.offered(original))
        elif any(key == question.qid or key.startswith(f"{question.qid}_") for key in given):
            raise InvalidAnswerError(
                f"{question.qid}: this respondent never saw this question (display logic, branch or randomizer)"
            )
    if given:
        raise InvalidAnswerError(f"unknown keys for this survey: {sorted(given)}")
    displayed = [survey.by_qid[qid] for qid in walk.shown]
    if submission.rules and submission.finished:
        for question in displayed:
            if question.forced and not _complete(question, answer_values):
                raise InvalidAnswerError(f"{question.qid}: a forced-response question must be answered")
    embedded.update(walk.embedded)

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
        answered = sum(1 for q in displayed if _has_answer(q, answer_values))
        progress = int(100 * answered / len(displayed)) if displayed else 0

    channel, status = RESPONSE_TYPES[submission.response_type]
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
        "distributionChannel": channel,
        "userLanguage": submission.user_language,
    }
    if channel in ("preview", "test"):
        # The recorded preview and test rows have no IP address; test rows no language either.
        del values["ipAddress"]
        if channel == "test":
            values["userLanguage"] = ""
    for key in RECIPIENT_KEYS:
        if submission.recipient.get(key):
            values[key] = str(submission.recipient[key])
    if survey.anonymized:
        for key in PERSONAL_KEYS:
            values.pop(key, None)
    values.update(answer_values)
    for name in declared:
        if name in embedded:
            values[name] = embedded[name]
    all_labels = {"status": STATUS_LABELS[status], "finished": "True" if submission.finished else "False"}
    all_labels.update(labels)
    fields: list[str] = []
    shown_values: JSON = {}
    for question in displayed:
        fields.extend(question.fields)
        shown_values.update(question.shown_values)
        if question.carried is not None or question.randomized:
            order = walk.chooser.choice_order(question)
            offered = set(question.offered(original))
            ids = [cid for cid in order if cid in offered]
            codes = ids if question.kind == "mc_multi" else [d.as_number(question.recodes[c]) for c in ids]
            shown_values[question.qid] = codes
    body = {
        "responseId": response_id,
        "values": values,
        "labels": all_labels,
        "displayedFields": fields,
        "displayedValues": shown_values,
    }
    extras = {
        key: order
        for key, order in walk.chooser.decided.items()
        if key.startswith("FL_")
        or (key.removesuffix("_DO") in shown and survey.by_qid[key.removesuffix("_DO")].randomized)
    }
    return body, extras
