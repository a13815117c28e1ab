"""Reading survey definitions the way Qualtrics stores them, irregularities included.

A definition is the `result` object of `GET /survey-definitions/{id}`; the sandbox
stores it as given and derives everything else (QSF, the legacy Get Survey,
response keys) from it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

JSON = dict[str, Any]

# Fields the sandbox owns; they are overwritten when a definition is stored.
OWNED_FIELDS = ("SurveyID", "BrandID", "OwnerID", "CreatorID", "BrandBaseURL", "SurveyStatus")

MC_SINGLE_SELECTORS = {"SAVR", "SAHR", "SACOL", "DL", "SB"}
MC_MULTI_SELECTORS = {"MAVR", "MAHR", "MACOL", "MSB"}
TEXT_SELECTORS = {"SL", "ML", "ESTB", "PW", "BL"}

NPS_GROUPS = {1: "Detractor", 2: "Passive", 3: "Promoter"}

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def plain_text(markup: str) -> str:
    """Question and choice texts carry HTML; labels and QSF summaries use the text only."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()


def question_kind(question: JSON) -> str:
    """One of mc_single, mc_multi, nps, text, form, slider, rank, matrix_single,
    matrix_multi, constant_sum, drill_down, or other (not answerable through the sandbox)."""
    qtype = question.get("QuestionType")
    selector = question.get("Selector")
    sub = question.get("SubSelector")
    if qtype == "MC":
        if selector == "NPS":
            return "nps"
        if selector in MC_MULTI_SELECTORS:
            return "mc_multi"
        if selector in MC_SINGLE_SELECTORS:
            return "mc_single"
    if qtype == "TE":
        return "form" if selector == "FORM" else "text"
    if qtype == "Slider":
        return "slider"
    if qtype == "RO":
        return "rank"
    if qtype == "CS":
        return "constant_sum"
    if qtype == "DD":
        return "drill_down"
    if qtype == "Matrix" and selector in ("Likert", "Bipolar"):
        return "matrix_multi" if sub == "MultipleAnswer" else "matrix_single"
    return "other"


def _indexed(items: Any) -> list[tuple[str, JSON]]:
    # Qualtrics' PHP back end encodes {"0": .., "1": ..} as a JSON array, so an
    # array's ids are its indexes.
    if isinstance(items, list):
        return [(str(i), item if isinstance(item, dict) else {}) for i, item in enumerate(items)]
    if isinstance(items, dict):
        return [(str(k), v if isinstance(v, dict) else {}) for k, v in items.items()]
    return []


def _ordered(items: Any, order: Any) -> list[tuple[str, JSON]]:
    by_id = dict(_indexed(items))
    ordered: list[tuple[str, JSON]] = []
    if isinstance(order, list):
        # ChoiceOrder holds strings or integers, sometimes mixed.
        for raw in order:
            key = str(raw)
            if key in by_id and all(key != seen for seen, _ in ordered):
                ordered.append((key, by_id[key]))
    for key, value in by_id.items():
        if all(key != seen for seen, _ in ordered):
            ordered.append((key, value))
    return ordered


def choices(question: JSON) -> list[tuple[str, JSON]]:
    """(choice id, choice) in display order, whether Choices is an object or an array."""
    return _ordered(question.get("Choices"), question.get("ChoiceOrder"))


def answers(question: JSON) -> list[tuple[str, JSON]]:
    """Matrix columns (Answers) in display order."""
    return _ordered(question.get("Answers"), question.get("AnswerOrder"))


def answer_parents(question: JSON) -> dict[str, str | None]:
    """Drill Down: each item (an `Answers` id) -> the item it sits under, None at the top level.

    Read from `AnswerMap` (our reading of that field; a third-party fixture shows
    `{"1": null, "2": null}` for a one-level Drill Down). Items it leaves out sit at the top.
    """
    mapping = question.get("AnswerMap")
    mapping = mapping if isinstance(mapping, dict) else {}
    parents: dict[str, str | None] = {}
    for aid, _ in answers(question):
        parent = mapping.get(aid)
        parents[aid] = str(parent) if parent not in (None, "", 0, "0") else None
    return parents


def drill_down_path(question: JSON, answer_id: str) -> list[str]:
    """Answer ids from the top level down to `answer_id` (a cycle stops the walk)."""
    parents = answer_parents(question)
    path: list[str] = []
    current: str | None = answer_id
    while current is not None and current in parents and current not in path:
        path.append(current)
        current = parents[current]
    return path[::-1]


def recode(question: JSON, choice_id: str) -> str:
    recodes = question.get("RecodeValues")
    if isinstance(recodes, dict) and choice_id in recodes:
        return str(recodes[choice_id])
    return choice_id


def display(choice: JSON) -> str:
    return str(choice.get("Display", ""))


def has_text_entry(choice: JSON) -> bool:
    return str(choice.get("TextEntry", "")).lower() == "true"


def as_number(text: str) -> int | float | str:
    """Recode values are strings in definitions but numbers in response values."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def questions(definition: JSON) -> JSON:
    found = definition.get("Questions")
    return found if isinstance(found, dict) else {}


def blocks(definition: JSON) -> list[JSON]:
    found = definition.get("Blocks")
    if isinstance(found, dict):
        return [b for b in found.values() if isinstance(b, dict)]
    if isinstance(found, list):
        return [b for b in found if isinstance(b, dict)]
    return []


def _flow_block_ids(flow: Any) -> Iterator[str]:
    if isinstance(flow, dict):
        if flow.get("Type") in ("Standard", "Block") and isinstance(flow.get("ID"), str):
            yield flow["ID"]
        for child in flow.get("Flow") or []:
            yield from _flow_block_ids(child)
    elif isinstance(flow, list):
        for child in flow:
            yield from _flow_block_ids(child)


def flow_block_ids(definition: JSON) -> list[str]:
    """Block ids in survey-flow order, then blocks the flow does not mention."""
    by_id = [str(b.get("ID")) for b in blocks(definition)]
    order = list(dict.fromkeys(_flow_block_ids(definition.get("SurveyFlow"))))
    return order + [bid for bid in by_id if bid not in order]


def live_question_ids(definition: JSON) -> list[str]:
    """Questions outside the Trash block, in survey-flow order.

    Deleted questions stay in `Questions`; only the Trash block says they are gone.
    """
    by_id = {str(b.get("ID")): b for b in blocks(definition)}
    found: list[str] = []
    for block_id in flow_block_ids(definition):
        block = by_id.get(block_id)
        if block is None or block.get("Type") == "Trash":
            continue
        for element in block.get("BlockElements") or []:
            qid = element.get("QuestionID") if isinstance(element, dict) else None
            if isinstance(qid, str) and qid in questions(definition) and qid not in found:
                found.append(qid)
    return found


def trashed_question_ids(definition: JSON) -> set[str]:
    trashed: set[str] = set()
    for block in blocks(definition):
        if block.get("Type") == "Trash":
            for element in block.get("BlockElements") or []:
                if isinstance(element, dict) and isinstance(element.get("QuestionID"), str):
                    trashed.add(element["QuestionID"])
    return trashed


def _embedded_elements(flow: Any) -> Iterator[JSON]:
    if isinstance(flow, dict):
        if flow.get("Type") == "EmbeddedData":
            for field in flow.get("EmbeddedData") or []:
                if isinstance(field, dict) and field.get("Field"):
                    yield field
        for child in flow.get("Flow") or []:
            yield from _embedded_elements(child)
    elif isinstance(flow, list):
        for child in flow:
            yield from _embedded_elements(child)


def embedded_fields(definition: JSON) -> list[JSON]:
    """Embedded-data fields declared anywhere in the survey flow."""
    return list(_embedded_elements(definition.get("SurveyFlow")))


def embedded_field_names(definition: JSON) -> list[str]:
    return list(dict.fromkeys(str(f["Field"]) for f in embedded_fields(definition)))


def slider_range(question: JSON) -> tuple[float, float]:
    config = question.get("Configuration") or {}
    low = config.get("CSSliderMin", 0)
    high = config.get("CSSliderMax", 100)
    try:
        return float(low), float(high)
    except (TypeError, ValueError):
        return 0.0, 100.0


UNAVAILABLE = {
    "PGR": "Pick, Group & Rank",
    "FileUpload": "File Upload",
    "HotSpot": "Hot Spot",
    "HeatMap": "Heat Map",
    "HL": "Highlight",
    "SBS": "Side by Side",
    "Draw": "Signature",
    "GAP": "Gap Analysis",
    "TreeSelect": "Tree Select",
    "DynamicMatrix": "Dynamic Matrix",
    "Captcha": "Captcha",
    "Timing": "Timing",
    "Meta": "Meta Info",
}


def unavailable_notice(question: JSON) -> str:
    """What a survey page shows instead of a question type the sandbox does not take answers for."""
    qtype = str(question.get("QuestionType"))
    name = UNAVAILABLE.get(qtype, qtype)
    if qtype == "Matrix" and question.get("Selector") == "MaxDiff":
        name = "MaxDiff"
    elif qtype == "Matrix":
        name = f"Matrix ({question.get('Selector')})"
    elif qtype == "MC" or qtype == "TE":
        name = f"{qtype} ({question.get('Selector')})"
    text = plain_text(str(question.get("QuestionText", "")))
    return f"{text} [{name} questions are not available in the sandbox; this question records no answer.]"


def validation_settings(question: JSON) -> JSON:
    found = (question.get("Validation") or {}).get("Settings") or {}
    return found if isinstance(found, dict) else {}


def constant_sum_total(question: JSON) -> float | None:
    """The sum a Constant Sum question requires (`Validation.Settings.Total`, our choice), if any."""
    settings = (question.get("Validation") or {}).get("Settings") or {}
    try:
        return float(settings["Total"]) if settings.get("Type") == "ChoicesTotal" else None
    except (KeyError, TypeError, ValueError):
        return None


# --- QSF -----------------------------------------------------------------------------


def to_qsf(definition: JSON) -> JSON:
    """The QSF document Qualtrics exports for a survey."""
    survey_id = definition.get("SurveyID")
    options = definition.get("SurveyOptions") or {}

    def element(kind: str, primary: str, secondary: str | None, payload: Any) -> JSON:
        return {
            "SurveyID": survey_id,
            "Element": kind,
            "PrimaryAttribute": primary,
            "SecondaryAttribute": secondary,
            "TertiaryAttribute": None,
            "Payload": payload,
        }

    response_sets = definition.get("ResponseSets") or {}
    active_set = options.get("ActiveResponseSet") or next(iter(response_sets), None)
    elements = [
        element("BL", "Survey Blocks", None, blocks(definition)),
        element("FL", "Survey Flow", None, definition.get("SurveyFlow")),
        element("SO", "Survey Options", None, options),
        element("SCO", "Scoring", None, definition.get("Scoring")),
        element("PROJ", "CORE", None, definition.get("ProjectInfo")),
        element("QC", "Survey Question Count", str(len(questions(definition))), None),
    ]
    for rs_id, rs_name in response_sets.items():
        elements.append(element("RS", rs_id, str(rs_name), None))
    for qid, question in questions(definition).items():
        summary = plain_text(str(question.get("QuestionText", "")))[:99]
        elements.append(element("SQ", qid, summary, question))
    return {
        "SurveyEntry": {
            "SurveyID": survey_id,
            "SurveyName": definition.get("SurveyName"),
            "SurveyDescription": None,
            "SurveyOwnerID": definition.get("OwnerID"),
            "SurveyBrandID": definition.get("BrandID"),
            "DivisionID": None,
            "SurveyLanguage": options.get("SurveyLanguage", "EN"),
            "SurveyActiveResponseSet": active_set,
            "SurveyStatus": definition.get("SurveyStatus"),
            "SurveyStartDate": "0000-00-00 00:00:00",
            "SurveyExpirationDate": "0000-00-00 00:00:00",
            "SurveyCreationDate": options.get("SurveyCreationDate"),
            "CreatorID": definition.get("CreatorID"),
            "LastModified": definition.get("LastModified"),
            "LastAccessed": definition.get("LastAccessed"),
            "LastActivated": definition.get("LastActivated"),
            "Deleted": None,
        },
        "SurveyElements": elements,
    }


def is_qsf(document: JSON) -> bool:
    return "SurveyElements" in document and "SurveyEntry" in document


def from_qsf(document: JSON) -> JSON:
    """A survey-definitions result object built from a QSF document."""
    entry = document.get("SurveyEntry") or {}
    definition: JSON = {
        "SurveyID": entry.get("SurveyID"),
        "SurveyName": entry.get("SurveyName"),
        "LastModified": entry.get("LastModified"),
        "LastAccessed": entry.get("LastAccessed"),
        "LastActivated": entry.get("LastActivated"),
        "Questions": {},
        "Blocks": {},
        "ResponseSets": {},
    }
    for element in document.get("SurveyElements") or []:
        kind = element.get("Element")
        payload = element.get("Payload")
        if kind == "SQ":
            definition["Questions"][str(element.get("PrimaryAttribute"))] = payload
        elif kind == "BL":
            for block_id, block in _indexed(payload):
                definition["Blocks"][str(block.get("ID", block_id))] = block
        elif kind == "FL":
            definition["SurveyFlow"] = payload
        elif kind == "SO":
            definition["SurveyOptions"] = payload
        elif kind == "SCO":
            definition["Scoring"] = payload
        elif kind == "PROJ":
            definition["ProjectInfo"] = payload
        elif kind == "RS":
            definition["ResponseSets"][str(element.get("PrimaryAttribute"))] = element.get("SecondaryAttribute")
    definition["QuestionCount"] = str(len(definition["Questions"]))
    return {k: v for k, v in definition.items() if v is not None}


# --- the older "Get Survey" format (GET /surveys/{id}) -------------------------------


def _legacy_choice(question: JSON, choice_id: str, choice: JSON, *, with_recode: bool) -> JSON:
    naming = question.get("VariableNaming") or {}
    variable = naming.get(choice_id) if isinstance(naming, dict) else None
    text = display(choice)
    out: JSON = {}
    if with_recode:
        out["recode"] = recode(question, choice_id)
    out["description"] = variable if variable else text
    out["choiceText"] = text
    out["imageDescription"] = None
    out["variableName"] = variable
    out["analyze"] = True
    if has_text_entry(choice):
        out["textEntry"] = {}
    return out


def legacy_question(question: JSON) -> JSON:
    kind = question.get("QuestionType")
    validation = ((question.get("Validation") or {}).get("Settings")) or {}
    out: JSON = {
        "questionType": {
            "type": kind,
            "selector": question.get("Selector"),
            "subSelector": question.get("SubSelector"),
        },
        "questionText": question.get("QuestionText", ""),
        "questionLabel": None,
        "validation": {"doesForceResponse": validation.get("ForceResponse") == "ON"},
        "questionName": question.get("DataExportTag"),
    }
    if kind == "Matrix":
        out["subQuestions"] = {cid: _legacy_choice(question, cid, c, with_recode=True) for cid, c in choices(question)}
        for sub in out["subQuestions"].values():
            sub.pop("analyze", None)
        out["choices"] = {
            aid: {
                "recode": aid,
                "description": display(a),
                "choiceText": display(a),
                "imageDescription": None,
                "analyze": True,
            }
            for aid, a in answers(question)
        }
    elif kind == "DD":
        # As recorded (QID12): subQuestions are the levels, choices every item with its
        # path joined by " ~ " ("one ~ 1.1 ~ 1.1.2"), numbered in Answers order.
        out["subQuestions"] = {cid: _legacy_choice(question, cid, c, with_recode=True) for cid, c in choices(question)}
        for sub in out["subQuestions"].values():
            sub.pop("analyze", None)
        texts = {aid: display(a) for aid, a in answers(question)}
        recodes = question.get("RecodeValues") if isinstance(question.get("RecodeValues"), dict) else {}
        out["choices"] = {}
        for aid, _ in answers(question):
            path = " ~ ".join(texts[step] for step in drill_down_path(question, aid))
            out["choices"][aid] = {
                "recode": str((recodes or {}).get(aid, aid)),
                "description": path,
                "choiceText": path,
                "imageDescription": None,
                "analyze": True,
            }
    elif kind in ("MC", "RO", "Slider", "TE") and question.get("Choices"):
        with_recode = kind != "TE"
        out["choices"] = {
            cid: _legacy_choice(question, cid, c, with_recode=with_recode) for cid, c in choices(question)
        }
    return out


def export_column_map(definition: JSON) -> JSON:
    """Export column name -> where it comes from, keyed by DataExportTag as Qualtrics does."""
    columns: JSON = {}
    for qid in live_question_ids(definition):
        question = questions(definition)[qid]
        tag = str(question.get("DataExportTag") or qid)
        kind = question_kind(question)
        if kind in ("mc_multi", "rank", "slider", "constant_sum"):
            for cid, choice in choices(question):
                columns[f"{tag}_{cid}"] = {"question": qid, "choice": f"{qid}.choices.{cid}"}
                if has_text_entry(choice):
                    columns[f"{tag}_{cid}_TEXT"] = {
                        "question": qid,
                        "choice": f"{qid}.choices.{cid}",
                        "textEntry": f"{qid}.choices.{cid}.textEntry",
                    }
        elif kind == "form":
            for cid, _ in choices(question):
                columns[f"{tag}_{cid}_TEXT"] = {"question": qid, "choice": f"{qid}.choices.{cid}"}
        elif kind in ("matrix_single", "matrix_multi", "drill_down"):
            for cid, _ in choices(question):
                columns[f"{tag}_{cid}"] = {"question": qid, "subQuestion": f"{qid}.subQuestions.{cid}"}
        else:
            columns[tag] = {"question": qid}
            if kind == "mc_single" and any(has_text_entry(c) for _, c in choices(question)):
                columns[f"{tag}_TEXT"] = {"question": qid}
    # The recorded map lists no embedded-data columns, so neither do we.
    return columns


def _legacy_flow(flow: Any) -> list[JSON]:
    out: list[JSON] = []
    for element in flow if isinstance(flow, list) else []:
        if not isinstance(element, dict):
            continue
        kind = element.get("Type")
        if kind in ("Standard", "Block"):
            out.append({"id": element.get("ID"), "type": "Block"})
        elif kind == "BlockRandomizer":
            item: JSON = {
                "type": "BlockRandomizer",
                "randomizationOptions": {
                    "randomSubset": element.get("SubSet", 0),
                    "evenPresentation": element.get("EvenPresentation", False),
                },
            }
            if element.get("Flow"):
                item["flow"] = _legacy_flow(element.get("Flow"))
            out.append(item)
        elif kind in ("Group", "Branch"):
            out.append({"type": kind, "flow": _legacy_flow(element.get("Flow"))})
        elif kind:
            out.append({"type": kind})
    return out


def legacy_survey(definition: JSON, survey: JSON, response_counts: JSON) -> JSON:
    """The result of the older `GET /surveys/{id}`."""
    live = live_question_ids(definition)
    legacy_blocks: JSON = {}
    for block in blocks(definition):
        if block.get("Type") == "Trash":
            continue
        elements: list[JSON] = []
        for element in block.get("BlockElements") or []:
            if element.get("Type") == "Question":
                elements.append({"type": "Question", "questionId": element.get("QuestionID")})
            elif element.get("Type") == "Page Break":
                elements.append({"type": "PageBreak"})
        legacy_blocks[str(block.get("ID"))] = {
            "description": block.get("Description"),
            "elements": elements,
        }
    flow = (definition.get("SurveyFlow") or {}).get("Flow")
    return {
        "id": survey["id"],
        "name": survey["name"],
        "ownerId": survey["ownerId"],
        "organizationId": survey["brandId"],
        "isActive": survey["isActive"],
        "creationDate": survey["creationDate"],
        "lastModifiedDate": survey["lastModified"],
        "expiration": {"startDate": None, "endDate": None},
        "questions": {qid: legacy_question(questions(definition)[qid]) for qid in live},
        "exportColumnMap": export_column_map(definition),
        "blocks": legacy_blocks,
        "flow": _legacy_flow(flow),
        # A field without a fixed value gets defaultValue null (our choice; not recorded).
        "embeddedData": [{"name": f["Field"], "defaultValue": f.get("Value")} for f in embedded_fields(definition)],
        "comments": {},
        "loopAndMerge": {},
        "responseCounts": response_counts,
    }
