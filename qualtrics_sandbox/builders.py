"""Small builders for survey-definitions objects shaped like Qualtrics' (used by seeds and tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]


def _base(qid: str, text: str, qtype: str, selector: str, sub: str | None, tag: str | None) -> JSON:
    question: JSON = {
        "QuestionText": text,
        "DataExportTag": tag or f"Q{qid[3:]}",
        "QuestionType": qtype,
        "Selector": selector,
    }
    if sub is not None:
        question["SubSelector"] = sub
    question.update(
        {
            "Configuration": {"QuestionDescriptionOption": "UseText"},
            "QuestionDescription": text[:99],
            "Validation": {"Settings": {"ForceResponse": "OFF", "ForceResponseType": "ON", "Type": "None"}},
            "Language": [],
            "QuestionID": qid,
            "DataVisibility": {"Private": False, "Hidden": False},
            "QuestionText_Unsafe": text,
        }
    )
    return question


def _choices(texts: list[str], other: int | None = None) -> JSON:
    out: JSON = {}
    for i, text in enumerate(texts, start=1):
        choice: JSON = {"Display": text}
        if other == i:
            choice["TextEntry"] = "true"
        out[str(i)] = choice
    return out


def multiple_choice(
    qid: str,
    text: str,
    options: list[str],
    selector: str = "SAVR",
    *,
    other: int | None = None,
    recodes: dict[str, str] | None = None,
    int_order: bool = False,
    tag: str | None = None,
) -> JSON:
    """MC; `other` = 1-based index of an "other, please specify" choice."""
    sub = None if selector == "DL" else "TX"
    question = _base(qid, text, "MC", selector, sub, tag)
    question["Choices"] = _choices(options, other)
    ids = list(range(1, len(options) + 1))
    question["ChoiceOrder"] = ids if int_order else [str(i) for i in ids]
    if recodes:
        question["RecodeValues"] = recodes
    question["NextChoiceId"] = len(options) + 1
    question["NextAnswerId"] = 1
    return question


def nps(qid: str, text: str, tag: str | None = None) -> JSON:
    # The real NPS question in a QSF stores Choices as an array, ids "0".."10".
    question = _base(qid, text, "MC", "NPS", None, tag)
    question["Choices"] = [{"Display": str(i)} for i in range(11)]
    question["ChoiceOrder"] = [str(i) for i in range(11)]
    question["NextChoiceId"] = 11
    question["NextAnswerId"] = 1
    return question


def text_entry(qid: str, text: str, selector: str = "SL", tag: str | None = None) -> JSON:
    question = _base(qid, text, "TE", selector, None, tag)
    question["DefaultChoices"] = False
    question["SearchSource"] = {"AllowFreeResponse": "false"}
    return question


def form(qid: str, text: str, fields: list[str], tag: str | None = None) -> JSON:
    question = _base(qid, text, "TE", "FORM", None, tag)
    question["Choices"] = _choices(fields)
    question["ChoiceOrder"] = [str(i) for i in range(1, len(fields) + 1)]
    return question


def slider(qid: str, text: str, statements: list[str], low: int = 0, high: int = 100, tag: str | None = None) -> JSON:
    question = _base(qid, text, "Slider", "HSLIDER", None, tag)
    question["Configuration"].update({"CSSliderMin": low, "CSSliderMax": high, "GridLines": 10})
    question["Choices"] = _choices(statements)
    question["ChoiceOrder"] = [str(i) for i in range(1, len(statements) + 1)]
    return question


def rank_order(qid: str, text: str, items: list[str], tag: str | None = None) -> JSON:
    question = _base(qid, text, "RO", "DND", "TX", tag)
    question["Choices"] = _choices(items)
    question["ChoiceOrder"] = list(range(1, len(items) + 1))
    return question


def matrix(qid: str, text: str, rows: list[str], columns: list[str], tag: str | None = None) -> JSON:
    question = _base(qid, text, "Matrix", "Likert", "SingleAnswer", tag)
    question["Choices"] = _choices(rows)
    question["ChoiceOrder"] = list(range(1, len(rows) + 1))
    question["Answers"] = _choices(columns)
    question["AnswerOrder"] = list(range(1, len(columns) + 1))
    question["ChoiceDataExportTags"] = False
    return question


Tree = Mapping[str, "Tree"] | list[str] | None


def drill_down(qid: str, text: str, levels: list[str], tree: Tree, tag: str | None = None) -> JSON:
    """Drill Down (`DD`/`DL`): `levels` are the lists' names (`Choices`), `tree` the items.

    `tree` nests dicts, ending in lists of leaf names (or None / {} for a leaf), e.g.
    `{"one": {"1.1": ["1.1.1", "1.1.2"]}, "two": ["2.1"]}`. Items become `Answers` numbered
    depth first from 1, as the recorded legacy format numbers them, and `AnswerMap` maps
    each item to the item above it (null at the top level).
    """
    question = _base(qid, text, "DD", "DL", None, tag)
    question["Choices"] = _choices(levels)
    question["ChoiceOrder"] = [str(i) for i in range(1, len(levels) + 1)]
    answers: JSON = {}
    parents: JSON = {}

    def add(node: Tree, parent: str | None) -> None:
        items: list[tuple[str, Tree]] = (
            [(name, None) for name in node] if isinstance(node, list) else list((node or {}).items())
        )
        for name, below in items:
            aid = str(len(answers) + 1)
            answers[aid] = {"Display": name}
            parents[aid] = parent
            add(below, aid)

    add(tree, None)
    question["Answers"] = answers
    question["AnswerOrder"] = list(answers)
    question["AnswerMap"] = parents
    question["NextChoiceId"] = len(levels) + 1
    question["NextAnswerId"] = len(answers) + 1
    return question


def descriptive(qid: str, text: str) -> JSON:
    return _base(qid, text, "DB", "TB", None, None)


def survey(
    name: str,
    question_list: list[JSON],
    *,
    survey_id: str | None = None,
    embedded: list[str] | None = None,
    trashed: list[JSON] | None = None,
    eos_redirect_url: str | None = None,
    created: str = "2024-01-15T09:00:00Z",
) -> JSON:
    """A survey-definitions result object with one standard block (+ Trash) and flow."""
    trashed = trashed or []
    questions = {q["QuestionID"]: q for q in [*question_list, *trashed]}
    elements: list[JSON] = []
    for i, question in enumerate(question_list):
        if i:
            elements.append({"Type": "Page Break"})
        elements.append({"Type": "Question", "QuestionID": question["QuestionID"]})
    blocks: JSON = {
        "BL_trash": {
            "Type": "Trash",
            "Description": "Trash / Unused Questions",
            "ID": "BL_trash",
            "BlockElements": [{"Type": "Question", "QuestionID": q["QuestionID"]} for q in trashed],
        },
        "BL_main": {
            "Type": "Default",
            "SubType": "",
            "Description": "Default Question Block",
            "ID": "BL_main",
            "BlockElements": elements,
            "Options": {"BlockLocking": "false", "RandomizeQuestions": "false", "BlockVisibility": "Expanded"},
        },
    }
    flow: list[JSON] = []
    if embedded:
        flow.append(
            {
                "Type": "EmbeddedData",
                "FlowID": "FL_2",
                "EmbeddedData": [
                    {
                        "Description": name_,
                        "Type": "Recipient",
                        "Field": name_,
                        "VariableType": "String",
                        "DataVisibility": [],
                        "AnalyzeText": False,
                    }
                    for name_ in embedded
                ],
            }
        )
    flow.append({"Type": "Block", "ID": "BL_main", "FlowID": "FL_3", "Autofill": []})
    flow.append({"Type": "EndSurvey", "FlowID": "FL_4"})
    options: JSON = {
        "BackButton": "false",
        "SaveAndContinue": "true",
        "SurveyProtection": "PublicSurvey",
        "SurveyTermination": "Redirect" if eos_redirect_url else "DefaultMessage",
        "EOSMessage": "",
        "EOSRedirectURL": eos_redirect_url or "https://",
        "PartialData": "+1 week",
        "PartialDataCloseAfter": "LastActivity",
        "AnonymizeResponse": "No",
        "ActiveResponseSet": "RS_default",
        "AvailableLanguages": {"EN": []},
        "SurveyName": name,
        "SurveyLanguage": "EN",
        "SurveyStartDate": None,
        "SurveyExpirationDate": None,
        "SurveyCreationDate": created,
    }
    definition: JSON = {
        "QuestionCount": str(len(questions)),
        "SurveyOptions": options,
        "SurveyName": name,
        "LastModified": created,
        "LastAccessed": None,
        "LastActivated": created,
        "Questions": questions,
        "Blocks": blocks,
        "ResponseSets": {"RS_default": "Default Response Set"},
        "SurveyFlow": {
            "Type": "Root",
            "FlowID": "FL_1",
            "Flow": flow,
            "Properties": {"Count": len(flow) + 1, "RemovedFieldsets": []},
        },
        "Scoring": {
            "ScoringCategories": [],
            "ScoringCategoryGroups": [],
            "ScoringSummaryCategory": None,
            "ScoringSummaryAfterQuestions": 0,
            "ScoringSummaryAfterSurvey": 0,
            "DefaultScoringCategory": None,
            "AutoScoringCategory": None,
        },
        "ProjectInfo": {
            "ProjectCategory": "CORE",
            "ProjectType": "CORE",
            "CompositionType": None,
            "ContentBundle": None,
        },
    }
    if survey_id:
        definition["SurveyID"] = survey_id
    return definition
