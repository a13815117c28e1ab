"""A Qualtrics response's `values`/`labels` -> tool-neutral answers (DESIGN §5.6, REFERENCE §7.3).

One extractor per question kind, each accepting every keying variant REFERENCE lists (and the
alternatives where it marks a shape as inferred). The same reader takes a single response
(`GET /surveys/{id}/responses/{rid}`), an element of a JSON export, and a CSV export row keyed by
its row-3 ImportIds (`csv_values`).

Nothing here raises on what a response holds: a key no extractor understands is counted per
question id in `unknown_keys`; a value that fits no choice is counted the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from muster.integrations.qualtrics import client
from muster.surveys.answers import Answer, ResponseData
from muster.surveys.questions import (
    NPS_GROUP,
    NPS_GROUPS,
    NPS_SCORE,
    OTHER_TEXT_SUFFIX,
    Choice,
    Kind,
    QuestionDef,
    Support,
)

# `seenUnansweredRecode` marks a question shown but left blank; -99 is the value clients use.
SEEN_UNANSWERED = frozenset({-99})
TEST_CHANNELS = frozenset({"preview", "test"})
# values.status (Response Type): 1 Survey Preview, 2 Survey Test (recorded value labels).
TEST_STATUSES = frozenset({1, 2})
TEST_STATUS_LABELS = frozenset({"survey preview", "survey test"})
_QID = re.compile(r"^(QID\d+)(.*)$", re.DOTALL)
# Display orders: `QIDn_DO`, `QIDn_ADO`, and the CSV's one column per choice (`QIDn_DO_<c>`).
_DISPLAY_ORDER = re.compile(r"_A?DO(_.*)?$")

Extractor = Callable[["Reading", QuestionDef], None]


class Reading:
    """One response being read: its keys grouped by question, what was claimed, what was found."""

    def __init__(
        self, values: Mapping[str, Any], labels: Mapping[str, Any], seen_unanswered: Collection[float]
    ) -> None:
        self.values = values
        self.labels = labels
        self.seen_unanswered = seen_unanswered
        self.answers: list[Answer] = []
        self.unknown: dict[str, int] = {}
        self.claimed: set[str] = set()

    def take(self, key: str) -> Any:
        """The value under `key` (None when missing, blank or "seen but unanswered"); claims it."""
        if key not in self.values:
            return None
        self.claimed.add(key)
        value = self.values[key]
        if value is None or value == "" or value == []:
            return None
        number = _number(value)
        if number is not None and number in self.seen_unanswered:
            return None
        return value

    def add(self, qid: str, part: str | None, value: Any, label: str = "") -> None:
        self.answers.append(Answer(qid, part, value, label))

    def not_understood(self, qid: str, count: int = 1) -> None:
        self.unknown[qid] = self.unknown.get(qid, 0) + count


# ---------------------------------------------------------------- values


def _number(value: Any) -> float | None:
    """A finite number from a number or a numeric string (NaN and infinities are not numbers here)."""
    found = _parse_number(value)
    return found if found is not None and math.isfinite(found) else None


def _parse_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            try:
                # formatDecimalAsComma: "3,5"
                return float(text.replace(",", ".")) if text.count(",") == 1 else None
            except ValueError:
                return None
    return None


def _code(value: Any) -> str:
    """A code as a definition spells it: 4, 4.0 and "4" are all "4"."""
    number = _number(value)
    if number is not None and number.is_integer():
        return str(int(number))
    return str(value).strip()


def _label(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _choice_for(question: QuestionDef, value: Any, label: Any = None) -> Choice | None:
    """The choice a value stands for: by recode, then by id, then by its label (labels exports)."""
    code = _code(value)
    for matches in (lambda c: c.recode == code, lambda c: c.id == code):
        found = next((c for c in question.choices if matches(c)), None)
        if found is not None:
            return found
    for text in (label, value):
        if isinstance(text, str) and text.strip():
            wanted = text.strip().casefold()
            found = next((c for c in question.choices if c.label.casefold() == wanted), None)
            if found is not None:
                return found
    return None


def _in_order(question: QuestionDef, ids: Iterable[str]) -> tuple[str, ...]:
    picked = set(ids)
    return tuple(c.id for c in question.choices if c.id in picked)


def _labels_of(question: QuestionDef, ids: Sequence[str]) -> str:
    by_id = {c.id: c.label for c in question.choices}
    return ", ".join(by_id[i] for i in ids)


def _selected(value: Any) -> bool:
    """A one-column-per-choice cell: 1, "1", true or the choice's label mean selected."""
    if value is True:
        return True
    if value is False or value is None:
        return False
    number = _number(value)
    if number is not None:
        return number == 1
    return str(value).strip().lower() not in ("", "false", "no")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, list | dict):
        return None
    text = str(value)
    return text if text.strip() else None


# ---------------------------------------------------------------- extractors


def _other_texts(r: Reading, q: QuestionDef) -> None:
    for choice in q.choices:
        if choice.has_text:
            text = _text(r.take(f"{q.qid}_{choice.id}_TEXT"))
            if text is not None:
                r.add(q.qid, f"{choice.id}{OTHER_TEXT_SUFFIX}", text)


def single_choice(r: Reading, q: QuestionDef) -> None:
    value = r.take(q.qid)
    if isinstance(value, list):
        # One answer sent as a one-element array.
        value = value[0] if len(value) == 1 else value
    if value is not None:
        choice = None if isinstance(value, list) else _choice_for(q, value, r.labels.get(q.qid))
        if choice is None:
            r.not_understood(q.qid)
        else:
            r.add(q.qid, None, (choice.id,), choice.label)
    _other_texts(r, q)


def multiple_choice(r: Reading, q: QuestionDef) -> None:
    picked: list[str] = []
    seen = False
    value = r.take(q.qid)
    if value is not None:
        seen = True
        labels = r.labels.get(q.qid)
        items = value if isinstance(value, list) else _split(value)
        label_list = labels if isinstance(labels, list) and len(labels) == len(items) else [None] * len(items)
        for item, label in zip(items, label_list, strict=True):
            choice = _choice_for(q, item, label)
            if choice is None:
                r.not_understood(q.qid)
            else:
                picked.append(choice.id)
    # One key per choice (CSV/XML breakout): QIDn_<choiceId> = 1.
    for choice in q.choices:
        cell = r.take(f"{q.qid}_{choice.id}")
        if cell is not None:
            seen = True
            if _selected(cell):
                picked.append(choice.id)
    ids = _in_order(q, picked)
    if seen and ids:
        r.add(q.qid, None, ids, _labels_of(q, ids))
    _other_texts(r, q)


def _split(value: Any) -> list[Any]:
    # breakoutSets false writes a multi answer in one cell: "1,3" (codes only: labels may hold commas).
    if isinstance(value, str) and "," in value:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if all(_number(p) is not None for p in parts):
            return parts
    return [value]


GROUP_BY_LABEL = {label.casefold(): code for code, label in NPS_GROUPS}
GROUP_LABELS = dict(NPS_GROUPS)


def _group_of_score(score: float) -> str:
    return "1" if score <= 6 else "2" if score <= 8 else "3"


def nps(r: Reading, q: QuestionDef) -> None:
    score: float | None = None
    value = r.take(q.qid)
    if value is not None:
        score = _number(value)
        if score is None and isinstance(value, str):
            choice = _choice_for(q, value)
            score = _number(choice.label) if choice else None
        if score is None or not 0 <= score <= 10:
            r.not_understood(q.qid)
            score = None
        else:
            r.add(q.qid, NPS_SCORE, score, _code(score))
    group_value = r.take(f"{q.qid}_NPS_GROUP")
    group: str | None = None
    if group_value is not None:
        code = _code(group_value)
        group = code if code in GROUP_LABELS else GROUP_BY_LABEL.get(str(group_value).strip().casefold())
        if group is None:
            r.not_understood(q.qid)
    if group is None and score is not None:
        # Qualtrics derives the group from the score; so does Muster when the key is missing.
        group = _group_of_score(score)
    if group is not None:
        r.add(q.qid, NPS_GROUP, (group,), GROUP_LABELS[group])


def text(r: Reading, q: QuestionDef) -> None:
    found: str | None = None
    for key in (f"{q.qid}_TEXT", q.qid):
        value = _text(r.take(key))
        found = found or value
    if found is not None:
        r.add(q.qid, None, found)


def form(r: Reading, q: QuestionDef) -> None:
    for choice in q.choices:
        found: str | None = None
        for key in (f"{q.qid}_{choice.id}", f"{q.qid}_{choice.id}_TEXT"):
            found = found or _text(r.take(key))
        if found is not None:
            r.add(q.qid, choice.id, found)


def _numbers(r: Reading, q: QuestionDef) -> None:
    for choice in q.choices:
        value = r.take(f"{q.qid}_{choice.id}")
        if value is None:
            continue
        number = _number(value)
        if number is None:
            r.not_understood(q.qid)
        else:
            r.add(q.qid, choice.id, number)


def slider(r: Reading, q: QuestionDef) -> None:
    _numbers(r, q)


def rank_order(r: Reading, q: QuestionDef) -> None:
    _numbers(r, q)
    _other_texts(r, q)


EXTRACTORS: dict[str, Extractor] = {
    Kind.SINGLE_CHOICE: single_choice,
    Kind.MULTIPLE_CHOICE: multiple_choice,
    Kind.NPS: nps,
    Kind.TEXT: text,
    Kind.FORM: form,
    Kind.SLIDER: slider,
    Kind.RANK_ORDER: rank_order,
}


# ---------------------------------------------------------------- metadata


def _finished(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    number = _number(value)
    if number is not None:
        return number == 1
    return str(value or "").strip().lower() == "true"


def _progress(value: Any) -> int:
    number = _number(value)
    return 0 if number is None else max(0, min(100, int(number)))


def _is_test(values: Mapping[str, Any], labels: Mapping[str, Any], channel: str) -> bool:
    if channel.lower() in TEST_CHANNELS:
        return True
    status = _number(values.get("status"))
    if status is not None and int(status) in TEST_STATUSES:
        return True
    return str(labels.get("status", "")).strip().lower() in TEST_STATUS_LABELS


# ---------------------------------------------------------------- the reader


def _leftover_is_known(qid: str, rest: str) -> bool:
    """Keys of a question no extractor needs: display orders and Text iQ analytics
    (`QID34_TEXT_<hash>Sentiment`…, REFERENCE §13), which are never answers."""
    return bool(_DISPLAY_ORDER.search(rest)) or rest.startswith("_TEXT_")


def read_response(
    questions: Sequence[QuestionDef],
    values: Mapping[str, Any],
    labels: Mapping[str, Any] | None,
    participant_field: str,
    response_id: str = "",
    *,
    seen_unanswered: Collection[int] = SEEN_UNANSWERED,
    raw: dict[str, Any] | None = None,
) -> ResponseData:
    """One response read with these questions. Keys missing (display logic, unanswered) are no
    answer; keys no extractor understands are counted per question id, never raised."""
    values = values if isinstance(values, Mapping) else {}
    labels = labels if isinstance(labels, Mapping) else {}
    reading = Reading(values, labels, {float(v) for v in seen_unanswered})
    by_qid = {q.qid: q for q in questions}
    for question in questions:
        extractor = EXTRACTORS.get(question.kind)
        if extractor is not None and question.support == Support.SUPPORTED:
            try:
                extractor(reading, question)
            except Exception:  # noqa: BLE001 - a response never stops the reading
                reading.not_understood(question.qid)
    for key in values:
        if key in reading.claimed:
            continue
        match = _QID.match(str(key))
        if match is None:
            continue  # metadata and embedded data
        qid, rest = match.groups()
        known = by_qid.get(qid)
        if known is not None and known.support != Support.SUPPORTED:
            continue  # kept raw, shown in Qualtrics
        if known is not None and _leftover_is_known(qid, rest):
            continue
        reading.not_understood(qid)
    channel = str(values.get("distributionChannel") or "")
    participant = values.get(participant_field) if participant_field else None
    return ResponseData(
        response_id=str(response_id or values.get("_recordId") or values.get("ResponseId") or ""),
        participant_id="" if participant is None or isinstance(participant, list | dict) else str(participant).strip(),
        finished=_finished(values.get("finished")),
        progress=_progress(values.get("progress")),
        recorded_at=client.moment(values.get("recordedDate")),
        last_modified_at=client.moment(values.get("lastModifiedDate") or values.get("LastModifiedDate")),
        channel=channel,
        is_test=_is_test(values, labels, channel),
        answers=reading.answers,
        unknown_keys=reading.unknown,
        raw=raw if raw is not None else {"values": dict(values), "labels": dict(labels)},
        started_at=client.moment(values.get("startDate")),
    )


def changed_at(values: Mapping[str, Any]) -> datetime | None:
    """When a response's answers were last true at Qualtrics: its last modification (exports with
    sortByLastModifiedDate carry it), else its recorded date; without reading its answers."""
    return client.moment(values.get("lastModifiedDate") or values.get("LastModifiedDate")) or client.moment(
        values.get("recordedDate")
    )


def csv_values(import_ids: Sequence[str], row: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, labels) of one CSV export row, keyed as the JSON response keys them.

    `import_ids` is the export's row 3 as written (`{"ImportId":"QID36","choiceId":"1"}`). A
    column with a choice id becomes `<ImportId>_<choiceId>` (one key per choice); a column marked
    IsLabelsColumn goes to the labels; empty cells are left out, as JSON leaves out what was not
    answered.
    """
    values: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    for header, cell in zip(import_ids, row, strict=False):
        try:
            found = orjson.loads(header)
        except orjson.JSONDecodeError:
            found = {"ImportId": header}
        if not isinstance(found, dict) or not found.get("ImportId"):
            continue
        key = str(found["ImportId"])
        if found.get("choiceId") not in (None, ""):
            key = f"{key}_{found['choiceId']}"
        if cell == "":
            continue
        if found.get("IsLabelsColumn"):
            labels[key] = cell
        else:
            values[key] = cell
    return values, labels
