"""Turning submitted answers into a stored response keyed as Qualtrics keys them.

Keys follow REFERENCE §7.3: MC single `QIDn` = recode value; MC multi `QIDn` = list of
choice-id strings; text `QIDn_TEXT`; form, slider, rank and matrix rows
`QIDn_{choiceId}`; other-text `QIDn_{choiceId}_TEXT`; NPS adds `QIDn_NPS_GROUP`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import definitions as d
from .clock import iso_millis, iso_seconds, parse_iso

JSON = dict[str, Any]


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


def _choice_by_recode(question: JSON, raw: Any, key: str) -> tuple[str, JSON]:
    wanted = str(raw)
    for cid, choice in d.choices(question):
        if d.recode(question, cid) == wanted:
            return cid, choice
    raise InvalidAnswerError(f"{key}: {raw!r} is not a recode value of this question")


def _choice_ids(question: JSON) -> dict[str, JSON]:
    return dict(d.choices(question))


def fields_of(qid: str, question: JSON) -> list[str]:
    """Every value key a question can produce (its displayedFields)."""
    kind = d.question_kind(question)
    ids = [cid for cid, _ in d.choices(question)]
    if kind in ("mc_single", "mc_multi"):
        extra = [f"{qid}_{cid}_TEXT" for cid, c in d.choices(question) if d.has_text_entry(c)]
        return [qid, *extra]
    if kind == "nps":
        return [f"{qid}_NPS_GROUP", qid]
    if kind == "text":
        return [f"{qid}_TEXT"]
    if kind in ("form", "slider", "rank", "matrix_single"):
        return [f"{qid}_{cid}" for cid in ids]
    if kind == "matrix_multi":
        return [f"{qid}_{cid}_{aid}" for cid in ids for aid, _ in d.answers(question)]
    return []


def _answer_question(qid: str, question: JSON, given: JSON, values: JSON, labels: JSON) -> None:
    """Move this question's keys from `given` into `values` and `labels`."""
    kind = d.question_kind(question)
    choice_map = _choice_ids(question)
    if kind in ("mc_single", "nps") and qid in given:
        raw = given.pop(qid)
        cid, choice = _choice_by_recode(question, raw, qid)
        number = d.as_number(d.recode(question, cid))
        values[qid] = number
        labels[qid] = d.plain_text(d.display(choice))
        if kind == "nps":
            if not isinstance(number, int) or not 0 <= number <= 10:
                raise InvalidAnswerError(f"{qid}: NPS scores run from 0 to 10")
            group = nps_group(number)
            values[f"{qid}_NPS_GROUP"] = group
            labels[f"{qid}_NPS_GROUP"] = d.NPS_GROUPS[group]
    elif kind == "mc_multi" and qid in given:
        raw = given.pop(qid)
        picked = [str(x) for x in (raw if isinstance(raw, list) else [raw])]
        unknown = [cid for cid in picked if cid not in choice_map]
        if unknown:
            raise InvalidAnswerError(f"{qid}: unknown choice ids {unknown}")
        ordered = [cid for cid in choice_map if cid in picked]
        values[qid] = ordered
        labels[qid] = [d.plain_text(d.display(choice_map[cid])) for cid in ordered]
    elif kind == "text":
        for key in (f"{qid}_TEXT", qid):
            if key in given:
                values[f"{qid}_TEXT"] = str(given.pop(key))
    elif kind == "form":
        for cid in choice_map:
            # Accept the _TEXT spelling too; stored as QIDn_{choiceId} (our choice, see README).
            for key in (f"{qid}_{cid}", f"{qid}_{cid}_TEXT"):
                if key in given:
                    values[f"{qid}_{cid}"] = str(given.pop(key))
    elif kind == "slider":
        low, high = d.slider_range(question)
        for cid in choice_map:
            key = f"{qid}_{cid}"
            if key in given:
                number = given.pop(key)
                if not isinstance(number, int | float) or not low <= number <= high:
                    raise InvalidAnswerError(f"{key}: {number!r} is outside {low:g}..{high:g}")
                values[key] = number
    elif kind == "rank":
        ranks = {cid: given.pop(f"{qid}_{cid}") for cid in choice_map if f"{qid}_{cid}" in given}
        if ranks:
            if sorted(ranks.values()) != list(range(1, len(choice_map) + 1)):
                raise InvalidAnswerError(f"{qid}: ranks must be 1..{len(choice_map)}, each once")
            for cid in choice_map:
                values[f"{qid}_{cid}"] = ranks[cid]
    elif kind == "matrix_single":
        answer_map = dict(d.answers(question))
        for cid in choice_map:
            key = f"{qid}_{cid}"
            if key in given:
                raw = str(given.pop(key))
                aid = next(
                    (a for a in answer_map if str((question.get("RecodeValues") or {}).get(a, a)) == raw),
                    None,
                )
                if aid is None:
                    raise InvalidAnswerError(f"{key}: {raw!r} is not an answer of this matrix")
                values[key] = d.as_number(raw)
                labels[key] = d.plain_text(d.display(answer_map[aid]))
    elif kind == "matrix_multi":
        answer_map = dict(d.answers(question))
        for cid in choice_map:
            for aid, answer in answer_map.items():
                key = f"{qid}_{cid}_{aid}"
                if key in given:
                    given.pop(key)
                    values[key] = 1
                    labels[key] = d.plain_text(d.display(answer))
    if kind in ("mc_single", "mc_multi"):
        for cid, choice in d.choices(question):
            key = f"{qid}_{cid}_TEXT"
            if key in given and d.has_text_entry(choice):
                values[key] = str(given.pop(key))


def _displayed_values(qid: str, question: JSON) -> JSON:
    kind = d.question_kind(question)
    if kind in ("mc_single", "nps", "mc_multi"):
        return {qid: [d.as_number(d.recode(question, cid)) for cid, _ in d.choices(question)]}
    if kind == "matrix_single":
        columns = [d.as_number(aid) for aid, _ in d.answers(question)]
        return {f"{qid}_{cid}": columns for cid, _ in d.choices(question)}
    if kind == "rank":
        positions = list(range(1, len(d.choices(question)) + 1))
        return {f"{qid}_{cid}": positions for cid, _ in d.choices(question)}
    return {}


def build_response(definition: JSON, response_id: str, submission: Submission, moment: datetime) -> JSON:
    """The stored response object: responseId, values, labels, displayedFields, displayedValues."""
    given = dict(submission.values)
    declared = d.embedded_field_names(definition)
    # Embedded data may also come inside values; undeclared fields are dropped,
    # as Qualtrics drops undeclared URL parameters.
    embedded = {k: given.pop(k) for k in list(given) if k in declared}
    embedded.update({k: v for k, v in submission.embedded_data.items() if k in declared})

    answer_values: JSON = {}
    labels: JSON = {}
    displayed_fields: list[str] = []
    displayed_values: JSON = {}
    live = d.live_question_ids(definition)
    answerable = 0
    for qid in live:
        question = d.questions(definition)[qid]
        if d.question_kind(question) == "other":
            continue
        answerable += 1
        _answer_question(qid, question, given, answer_values, labels)
        displayed_fields.extend(fields_of(qid, question))
        displayed_values.update(_displayed_values(qid, question))
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
        progress = int(100 * len(answered) / answerable) if answerable else 0

    values: JSON = {
        "startDate": iso_seconds(start),
        "endDate": iso_seconds(recorded_at),
        "status": 0,
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
    all_labels = {"status": "IP Address", "finished": "True" if submission.finished else "False"}
    all_labels.update(labels)
    return {
        "responseId": response_id,
        "values": values,
        "labels": all_labels,
        "displayedFields": displayed_fields,
        "displayedValues": displayed_values,
    }
