"""A Qualtrics survey definition -> tool-neutral questions and a compatibility report (DESIGN §3, §5.5).

The input is the `result` of `GET /survey-definitions/{surveyId}` (REFERENCE §5). Every irregular
shape REFERENCE lists is normalised here, so nothing downstream sees one: `Choices` as an object or
an array, `ChoiceOrder` of strings, integers or both, `RecodeValues` that differ from choice ids, a
missing `ChoiceOrder`, HTML (scripts included) in question texts and labels.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import nh3
import orjson

from muster.integrations.qualtrics import client
from muster.surveys.questions import (
    NPS_GROUP,
    NPS_GROUPS,
    NPS_SCORE,
    OTHER_TEXT_SUFFIX,
    Choice,
    ImportedDefinition,
    Kind,
    Part,
    QuestionDef,
    ReportItem,
)

JSON = dict[str, Any]

MC_SINGLE = frozenset({"SAVR", "SAHR", "SACOL", "DL", "SB"})
MC_MULTI = frozenset({"MAVR", "MAHR", "MACOL", "MSB"})
TE_SINGLE = frozenset({"SL", "ML", "ESTB", "PW"})

# QuestionType -> (kind, what to call them in "can't be mapped yet").
UNSUPPORTED = {
    "Matrix": (Kind.MATRIX, "Matrix tables"),
    "SBS": (Kind.SIDE_BY_SIDE, "Side by side questions"),
    "CS": (Kind.CONSTANT_SUM, "Constant sum questions"),
    "PGR": (Kind.PICK_GROUP_RANK, "Pick, group & rank questions"),
    "HotSpot": (Kind.HOT_SPOT, "Hot spot questions"),
    "HeatMap": (Kind.HEAT_MAP, "Heat map questions"),
    "DD": (Kind.DRILL_DOWN, "Drill down questions"),
    "HL": (Kind.HIGHLIGHT, "Highlight questions"),
    "Signature": (Kind.SIGNATURE, "Signatures"),
    "FileUpload": (Kind.FILE_UPLOAD, "File uploads"),
}
NOT_ANSWERABLE = {
    "DB": (Kind.DESCRIPTIVE, "Descriptive text: there is nothing to answer."),
    "Timing": (Kind.TIMING, "Timing: Qualtrics measures it, participants don't answer it."),
    "Meta": (Kind.META, "Meta info: Qualtrics records the browser, participants don't answer it."),
    "Captcha": (Kind.CAPTCHA, "Captcha: it only checks the participant is a person."),
}

# Keys that change while the survey itself does not: LastAccessed moves on every read,
# LastActivated and SurveyStatus on every (de)activation (the report says whether it is active),
# and LastModified is bumped by publishing even when nothing changed. QuestionCount is not
# trustworthy (REFERENCE §13) but follows the questions, so it stays in.
VOLATILE_KEYS = ("LastAccessed", "LastActivated", "LastModified", "SurveyStatus")

# What question texts may keep: emphasis, line structure, lists and links. No images or media
# (they would load from Qualtrics' servers in Muster's pages), no styles, no scripts.
ALLOWED_TAGS = {"a", "b", "br", "div", "em", "i", "li", "ol", "p", "span", "strong", "sub", "sup", "u", "ul"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
_SPACE = re.compile(r"\s+")
_QID_NUMBER = re.compile(r"(\d+)")

PARTICIPANT_ITEM = "Participant ID field"
RETURN_ITEM = "Return to Muster"
ACTIVE_ITEM = "Survey is active"
PUBLIC_ITEM = "Anyone with the link can take it"
READABLE_ITEM = "Responses readable"


# ---------------------------------------------------------------- text


def safe_html(markup: Any) -> str:
    """Qualtrics HTML made safe to show: scripts and styles go with their content."""
    return nh3.clean(
        str(markup or ""), tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, link_rel="noopener noreferrer"
    )


def plain_text(markup: Any) -> str:
    """The text a participant reads, without markup, one line."""
    text = nh3.clean(str(markup or "").replace("<br", " <br").replace("</div>", " </div>"), tags=set())
    return _SPACE.sub(" ", html.unescape(text)).strip()


# ---------------------------------------------------------------- shapes


def _indexed(items: Any) -> list[tuple[str, Any]]:
    # Qualtrics' back end sends {"0": .., "1": ..} as a JSON array, so an array's ids are its indexes.
    if isinstance(items, list):
        return [(str(i), item) for i, item in enumerate(items)]
    if isinstance(items, dict):
        return [(str(k), v) for k, v in items.items()]
    return []


def ordered_choices(items: Any, order: Any) -> list[tuple[str, Any]]:
    """(choice id, choice) in display order: ChoiceOrder first (strings, ints or mixed; unknown
    ids dropped), then any choice it leaves out, in definition order."""
    by_id = dict(_indexed(items))
    ids: list[str] = []
    if isinstance(order, list):
        for raw in order:
            key = str(raw).strip()
            if key in by_id and key not in ids:
                ids.append(key)
    ids += [key for key in by_id if key not in ids]
    return [(key, by_id[key]) for key in ids]


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def _choice(question: JSON, cid: str, raw: Any) -> Choice:
    recodes = question.get("RecodeValues")
    recode = recodes.get(cid) if isinstance(recodes, dict) else None
    display = raw.get("Display", "") if isinstance(raw, dict) else raw
    has_text = isinstance(raw, dict) and _truthy(raw.get("TextEntry"))
    return Choice(
        id=cid, recode=str(recode if recode not in (None, "") else cid), label=plain_text(display), has_text=has_text
    )


def choices_of(question: JSON) -> tuple[Choice, ...]:
    return tuple(
        _choice(question, cid, raw)
        for cid, raw in ordered_choices(question.get("Choices"), question.get("ChoiceOrder"))
    )


def _blocks(definition: JSON) -> list[JSON]:
    found = definition.get("Blocks")
    items = found.values() if isinstance(found, dict) else found if isinstance(found, list) else []
    return [b for b in items if isinstance(b, dict)]


def _questions(definition: JSON) -> JSON:
    found = definition.get("Questions")
    return {str(k): v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}


def _flow_children(element: Any) -> list[Any]:
    children = element.get("Flow") if isinstance(element, dict) else None
    return children if isinstance(children, list) else []


def _flow_elements(element: Any, inside: tuple[str, ...] = ()) -> Iterator[tuple[JSON, tuple[str, ...]]]:
    """Every flow element in flow order (depth first), with the types of the elements around it."""
    if not isinstance(element, dict):
        return
    yield element, inside
    for child in _flow_children(element):
        yield from _flow_elements(child, (*inside, str(element.get("Type", ""))))


BLOCK_TYPES = ("Standard", "Block", "Default")


def _is_block(element: JSON) -> bool:
    return element.get("Type") in BLOCK_TYPES and isinstance(element.get("ID"), str)


def question_order(definition: JSON) -> list[str]:
    """QIDs in survey order: flow → blocks → block elements; then blocks the flow leaves out; then
    questions in no block at all, in QID order. Anything in a Trash block is deleted."""
    questions = _questions(definition)
    blocks = _blocks(definition)
    by_id = {str(b.get("ID")): b for b in blocks}
    trashed = {
        str(e.get("QuestionID"))
        for b in blocks
        if b.get("Type") == "Trash"
        for e in b.get("BlockElements") or []
        if isinstance(e, dict)
    }
    flow_blocks = [str(e["ID"]) for e, _ in _flow_elements(definition.get("SurveyFlow")) if _is_block(e)]
    block_ids = list(dict.fromkeys([*flow_blocks, *by_id]))
    found: list[str] = []
    placed: set[str] = set()
    for block_id in block_ids:
        block = by_id.get(block_id)
        if block is None:
            continue
        for element in block.get("BlockElements") or []:
            qid = str(element.get("QuestionID")) if isinstance(element, dict) else ""
            placed.add(qid)
            if block.get("Type") != "Trash" and qid in questions and qid not in trashed and qid not in found:
                found.append(qid)
    orphans = [qid for qid in questions if qid not in placed and qid not in trashed]
    return found + sorted(orphans, key=_qid_key)


def _qid_key(qid: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in _QID_NUMBER.split(qid))


# ---------------------------------------------------------------- questions


@dataclass(frozen=True)
class _Classified:
    kind: str
    reason: str = ""
    parts: tuple[Part, ...] = ()
    whole: bool = True


def _unsupported(kind: str, plural: str) -> _Classified:
    return _Classified(
        kind, f"{plural} can't be mapped to properties yet; their answers are kept and you can see them in Qualtrics."
    )


def _other(tool_kind: str, why: str = "") -> _Classified:
    why = why or f"Muster doesn't know the Qualtrics question type {tool_kind}"
    return _Classified(Kind.OTHER, f"{why}; its answers are kept and you can see them in Qualtrics.")


def _text_parts(choices: tuple[Choice, ...]) -> tuple[Part, ...]:
    return tuple(Part(f"{c.id}{OTHER_TEXT_SUFFIX}", f"{c.label} (text)", "text") for c in choices if c.has_text)


def _per_choice(choices: tuple[Choice, ...], kind: str) -> tuple[Part, ...]:
    return tuple(Part(c.id, c.label, kind) for c in choices)


NO_CHOICES = (
    "This question has no choices in its definition (they may be carried forward or set by Qualtrics at run time)"
)


def classify(question: JSON, choices: tuple[Choice, ...], tool_kind: str) -> _Classified:
    qtype = str(question.get("QuestionType") or "")
    selector = str(question.get("Selector") or "")
    if selector == "Signature" or qtype == "Signature":
        return _unsupported(*UNSUPPORTED["Signature"])
    if selector == "FileUpload" and qtype not in UNSUPPORTED:
        return _unsupported(*UNSUPPORTED["FileUpload"])
    if qtype in UNSUPPORTED:
        return _unsupported(*UNSUPPORTED[qtype])
    if qtype in NOT_ANSWERABLE:
        kind, reason = NOT_ANSWERABLE[qtype]
        return _Classified(kind, reason)
    if qtype == "MC" and selector == "NPS":
        group = Part(NPS_GROUP, "Group", "choice", tuple(Choice(i, i, label) for i, label in NPS_GROUPS))
        return _Classified(Kind.NPS, parts=(Part(NPS_SCORE, "Score", "number"), group), whole=False)
    if qtype == "MC" and selector in MC_SINGLE | MC_MULTI:
        if not choices:
            return _other(tool_kind, NO_CHOICES)
        kind = Kind.SINGLE_CHOICE if selector in MC_SINGLE else Kind.MULTIPLE_CHOICE
        return _Classified(kind, parts=_text_parts(choices))
    if qtype == "TE" and selector in TE_SINGLE:
        return _Classified(Kind.TEXT)
    if qtype == "TE" and selector == "FORM":
        if not choices:
            return _other(tool_kind, "This form has no fields in its definition")
        return _Classified(Kind.FORM, parts=_per_choice(choices, "text"), whole=False)
    if qtype == "Slider":
        if not choices:
            return _other(tool_kind, "This slider has no statements in its definition")
        return _Classified(Kind.SLIDER, parts=_per_choice(choices, "number"), whole=False)
    if qtype == "RO":
        if not choices:
            return _other(tool_kind, "This rank order has no items in its definition")
        return _Classified(Kind.RANK_ORDER, parts=_per_choice(choices, "number") + _text_parts(choices), whole=False)
    return _other(tool_kind)


def tool_kind_of(question: JSON) -> str:
    names = (question.get("QuestionType"), question.get("Selector"), question.get("SubSelector"))
    return "/".join(str(n) for n in names if n not in (None, "")) or "unknown"


def import_question(qid: str, question: JSON, position: int) -> QuestionDef:
    choices = choices_of(question)
    tool_kind = tool_kind_of(question)
    found = classify(question, choices, tool_kind)
    text = question.get("QuestionText")
    return QuestionDef(
        qid=qid,
        export_tag=str(question.get("DataExportTag") or qid),
        text=safe_html(text),
        plain_text=plain_text(text),
        kind=found.kind,
        tool_kind=tool_kind,
        reason=found.reason,
        choices=choices,
        parts=found.parts,
        whole=found.whole,
        position=position,
    )


# ---------------------------------------------------------------- the report


def participant_item(definition: JSON, field: str) -> ReportItem:
    """The field must be declared by an EmbeddedData element that every respondent passes before
    any block: one after a block (a respondent who stops before it has no Participant ID) or only
    inside a branch or randomizer (some respondents never reach it) is not enough."""
    seen_block = False
    late = conditional = False
    for element, inside in _flow_elements(definition.get("SurveyFlow")):
        if _is_block(element):
            seen_block = True
            continue
        if element.get("Type") != "EmbeddedData":
            continue
        fields = element.get("EmbeddedData")
        declares = isinstance(fields, list) and any(isinstance(f, dict) and f.get("Field") == field for f in fields)
        if not declares:
            continue
        if "Branch" in inside or "BlockRandomizer" in inside:
            conditional = True
        elif seen_block:
            late = True
        else:
            return ReportItem(PARTICIPANT_ITEM, True)
    move = (
        f"In Qualtrics: Survey flow → move the Embedded Data element that sets “{field}” to the top of the flow, "
        "then Apply."
    )
    if conditional:
        return ReportItem(
            PARTICIPANT_ITEM,
            False,
            f"“{field}” is only set inside a branch or randomizer, so some participants would come back without their "
            f"Participant ID. {move}",
        )
    if late:
        return ReportItem(
            PARTICIPANT_ITEM,
            False,
            f"“{field}” is set after the first block, so a participant who stops early has no Participant ID. {move}",
        )
    return ReportItem(
        PARTICIPANT_ITEM,
        False,
        f"In Qualtrics: Survey flow → Add a New Element Here → Embedded Data → enter “{field}” as the field name "
        "(leave its value empty), move that element to the top of the flow, then Apply.",
    )


def comparable_url(url: Any) -> tuple[Any, ...]:
    """A URL with the differences that do not matter taken out: surrounding spaces, the case of
    scheme and host, a default port, percent-encoding (Qualtrics may store `${...}` encoded),
    a trailing slash on the path, the order of query parameters and any fragment. Field names in
    piped text (`${e://Field/...}`) stay case-sensitive, as Qualtrics reads them."""
    parts = urlsplit(str(url or "").strip())
    scheme = parts.scheme.lower()
    port = parts.port if parts.port not in ({"http": 80, "https": 443}.get(scheme), None) else None
    path = unquote(parts.path).rstrip("/") or "/"
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return scheme, (parts.hostname or "").lower(), port, path, tuple(query)


def _redirects_to(options: Any, return_url: str) -> bool:
    if not isinstance(options, dict):
        return False
    return str(options.get("SurveyTermination", "")) == "Redirect" and comparable_url(
        options.get("EOSRedirectURL")
    ) == comparable_url(return_url)


def _overrides(element: JSON) -> bool:
    """An End of Survey element with its own options ("Customize → Override Survey Options")."""
    options = element.get("Options")
    if not isinstance(options, dict) or not options:
        return False
    return (
        element.get("EndingType") == "Advanced"
        or _truthy(options.get("Advanced"))
        or "SurveyTermination" in options
        or "EOSRedirectURL" in options
    )


def return_item(definition: JSON, return_url: str) -> ReportItem:
    wrong: list[str] = []
    if not _redirects_to(definition.get("SurveyOptions"), return_url):
        wrong.append("Survey options → Survey termination → Redirect to a URL")
    ends = [e for e, _ in _flow_elements(definition.get("SurveyFlow")) if e.get("Type") == "EndSurvey"]
    custom = [e for e in ends if _overrides(e) and not _redirects_to(e.get("Options"), return_url)]
    if custom:
        count = "the End of Survey element" if len(custom) == 1 else f"each of the {len(custom)} End of Survey elements"
        wrong.append(f"Survey flow → {count} that overrides the survey options → Redirect to a URL")
    if not wrong:
        return ReportItem(RETURN_ITEM, True)
    return ReportItem(
        RETURN_ITEM,
        False,
        f"Participants must come back to Muster when they finish. In Qualtrics: {'; and '.join(wrong)}, and paste "
        f"exactly this URL: {return_url}",
    )


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def active_item(definition: JSON, now: datetime) -> ReportItem:
    """Active (SurveyStatus) and within its availability dates, when the options carry them
    (SurveyStartDate / SurveyExpirationDate; the recorded definition has them null)."""
    if str(definition.get("SurveyStatus", "")) != "Active":
        return ReportItem(
            ACTIVE_ITEM,
            False,
            "The survey is not active, so participants can't take it and Muster's survey picker hides it. "
            "In Qualtrics: open the survey and Publish it (or Projects → the survey → Activate).",
        )
    options = definition.get("SurveyOptions")
    options = options if isinstance(options, dict) else {}
    start = client.moment(options.get("SurveyStartDate"))
    end = client.moment(options.get("SurveyExpirationDate"))
    dates = "In Qualtrics: Survey options → Responses → Survey availability → change or remove the dates."
    if start is not None and now < start:
        return ReportItem(ACTIVE_ITEM, False, f"The survey only opens on {_shown(start)}. {dates}")
    if end is not None and now >= end:
        return ReportItem(ACTIVE_ITEM, False, f"The survey closed on {_shown(end)}. {dates}")
    return ReportItem(ACTIVE_ITEM, True)


def public_item(definition: JSON) -> ReportItem:
    options = definition.get("SurveyOptions")
    protection = str((options if isinstance(options, dict) else {}).get("SurveyProtection") or "PublicSurvey")
    if protection == "PublicSurvey":
        return ReportItem(PUBLIC_ITEM, True)
    return ReportItem(
        PUBLIC_ITEM,
        False,
        f"The survey is restricted ({protection}), so participants sent with its anonymous link are turned away. "
        "In Qualtrics: Survey options → Security → Open access (anyone with the link).",
    )


def readable_item(error: str | None, service_user: str) -> ReportItem:
    """Whether the service user can read the survey's responses; `error` is why not, None if it can."""
    if error is None:
        return ReportItem(READABLE_ITEM, True)
    return ReportItem(
        READABLE_ITEM,
        False,
        f"Qualtrics did not let Muster read this survey's responses ({error}). In Qualtrics: Share (Collaborate) the "
        f"survey with “{service_user}” with every permission, including Data & Analysis → View and Download survey "
        "results.",
    )


# ---------------------------------------------------------------- the whole


def digest_of(definition: JSON) -> str:
    stable = {k: v for k, v in definition.items() if k not in VOLATILE_KEYS}
    return hashlib.sha256(orjson.dumps(stable, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)).hexdigest()


def import_definition(
    definition: JSON,
    participant_field: str,
    return_url: str,
    *,
    readable: ReportItem | None = None,
    now: datetime | None = None,
) -> ImportedDefinition:
    """The questions (survey order, deleted ones left out) and the compatibility report.

    `readable` is the "Responses readable" item, which needs a call (the tool makes it); without it
    the report leaves that item out.
    """
    questions = _questions(definition)
    imported = tuple(import_question(qid, questions[qid], i) for i, qid in enumerate(question_order(definition)))
    report = [
        participant_item(definition, participant_field),
        return_item(definition, return_url),
        active_item(definition, now or datetime.now(UTC)),
        public_item(definition),
    ]
    if readable is not None:
        report.append(readable)
    options = definition.get("SurveyOptions")
    name = definition.get("SurveyName") or (options.get("SurveyName") if isinstance(options, dict) else "")
    return ImportedDefinition(
        survey_id=str(definition.get("SurveyID") or ""),
        name=str(name or ""),
        questions=imported,
        report=tuple(report),
        last_modified=client.moment(definition.get("LastModified")),
        digest=digest_of(definition),
        brand=str(definition.get("BrandID") or ""),
        base_url=str(definition.get("BrandBaseURL") or ""),
    )
