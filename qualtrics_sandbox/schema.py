"""`GET /surveys/{surveyId}/response-schema`: the JSON schema of a response (REFERENCE §13).

The envelope follows the spec's model (`$schema` draft 2019-09, `properties.values.properties`
with `type`, `description`, `format`, `questionId`, `exportTag`, `questionExportTag`,
`dataType`, `oneOf` of `{"const", "label"}`, `items`); the descriptions are ours.
"""

from __future__ import annotations

from typing import Any

from . import definitions as d
from .export_files import METADATA, PERSONAL, TEXTIQ, textiq_id
from .responses import Compiled, Question

JSON = dict[str, Any]
INTEGERS = {"status", "progress", "duration", "finished"}
DATES = {"startDate", "endDate", "recordedDate"}
# Present on every response ("the same across all surveys").
REQUIRED = [
    "startDate",
    "endDate",
    "status",
    "progress",
    "duration",
    "finished",
    "recordedDate",
    "_recordId",
    "distributionChannel",
    "userLanguage",
]


def _type_of(codes: list[Any]) -> str:
    if codes and all(isinstance(c, int) for c in codes):
        return "integer"
    if codes and all(isinstance(c, int | float) for c in codes):
        return "number"
    return "string"


def _choices(q: Question) -> list[JSON]:
    return [{"const": d.as_number(q.recodes[cid]), "label": q.labels[cid]} for cid, _ in q.choices]


def _question_fields(q: Question) -> dict[str, JSON]:
    base = {"questionId": q.qid, "questionExportTag": q.tag, "dataType": "question"}
    found: dict[str, JSON] = {}

    def add(key: str, export_tag: str, description: str, **schema: Any) -> None:
        found[key] = {**schema, "description": description, **base, "exportTag": export_tag}

    text = q.text
    if q.kind in ("mc_single", "nps"):
        options = _choices(q)
        add(q.qid, q.tag, text, type=_type_of([o["const"] for o in options]), oneOf=options)
        if q.kind == "nps":
            groups = [{"const": code, "label": name} for code, name in d.NPS_GROUPS.items()]
            add(f"{q.qid}_NPS_GROUP", f"{q.tag}_NPS_GROUP", f"{text} - Group", type="integer", oneOf=groups)
    elif q.kind == "mc_multi":
        options = [{"const": cid, "label": q.labels[cid]} for cid, _ in q.choices]
        add(q.qid, q.tag, text, type="array", items={"type": "string", "oneOf": options})
    elif q.kind == "text":
        add(f"{q.qid}_TEXT", q.tag, text, type="string")
    elif q.kind == "matrix_multi":
        for cid, _ in q.choices:
            for aid, _ in q.answers:
                add(
                    f"{q.qid}_{cid}_{aid}",
                    f"{q.tag}_{cid}_{aid}",
                    f"{text} - {q.labels[cid]} - {q.answer_labels[aid]}",
                    type="integer",
                    oneOf=[{"const": 1, "label": q.answer_labels[aid]}],
                )
    else:
        for cid, _ in q.choices:
            key, tag, what = f"{q.qid}_{cid}", f"{q.tag}_{cid}", f"{text} - {q.labels[cid]}"
            if q.kind == "form":
                add(key, tag, what, type="string")
            elif q.kind in ("slider", "constant_sum"):
                add(key, tag, what, type="number")
            elif q.kind == "rank":
                add(key, tag, what, type="integer")
            elif q.kind == "matrix_single" or q.kind == "drill_down":
                options = [
                    {"const": d.as_number(q.answer_recodes[a]), "label": q.answer_labels[a]} for a, _ in q.answers
                ]
                add(key, tag, what, type=_type_of([o["const"] for o in options]), oneOf=options)
    for cid in q.text_entry:
        add(f"{q.qid}_{cid}_TEXT", f"{q.tag}_{cid}_TEXT", f"{text} - {q.labels[cid]} - Text", type="string")
    return found


def response_schema(survey: Compiled, survey_id: str, name: str, textiq: bool) -> JSON:
    values: dict[str, JSON] = {}
    for key, header, text in METADATA:
        if survey.anonymized and key in PERSONAL:
            continue
        prop: JSON = {"type": "integer" if key in INTEGERS else "string", "description": text}
        if key in DATES:
            prop["format"] = "date-time"
        values[key] = {**prop, "exportTag": header, "dataType": "metadata"}
    for q in survey.questions:
        values.update(_question_fields(q))
        if textiq and q.kind == "text":
            base = textiq_id(survey_id, q.qid)
            for suffix, label in TEXTIQ:
                kind = "integer" if suffix in ("SenPol", "SenScore") else "string"
                values[f"{base}{suffix}"] = {
                    "type": kind,
                    "description": f"{q.tag} - {label} (Text iQ)",
                    "questionId": q.qid,
                    "exportTag": f"{q.tag} - {label}",
                    "dataType": "question",
                }
    for field in survey.declared:
        values[field] = {"type": "string", "description": field, "exportTag": field, "dataType": "embeddedData"}
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": f"{survey_id}/response-schema",
        "title": f"Responses to {name}",
        "description": "The shape of a response of this survey, as GET .../responses/{responseId} returns it.",
        "type": "object",
        "required": ["responseId", "values", "labels", "displayedFields", "displayedValues"],
        "properties": {
            "responseId": {"type": "string", "description": "The response ID (R_...)."},
            "values": {
                "type": "object",
                "description": "Recorded values: metadata, answers (codes), embedded data.",
                "properties": values,
                "required": REQUIRED,
            },
            "labels": {
                "type": "object",
                "description": "The text of each coded value.",
                "additionalProperties": {"type": ["string", "array"]},
            },
            "displayedFields": {
                "type": "array",
                "description": "The values keys of the questions this respondent was shown.",
                "items": {
                    "type": "string",
                    "enum": sorted({k for k, v in values.items() if v.get("dataType") == "question"}),
                },
            },
            "displayedValues": {
                "type": "object",
                "description": "For each displayed coded field, the codes that were offered.",
                "additionalProperties": {"type": "array"},
            },
        },
    }
