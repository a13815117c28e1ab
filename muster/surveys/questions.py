"""What a survey tool's importer returns: a survey's questions, tool-neutral (DESIGN §3, §5.5).

`integrations/qualtrics/importer.py` turns a Qualtrics definition into these; nothing here knows a
Qualtrics shape. Ids (`qid`, choice ids) are the tool's own, kept as opaque strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models


class Kind(models.TextChoices):
    # Supported: their answers can be mapped to properties.
    SINGLE_CHOICE = "single_choice", "Multiple choice (one answer)"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice (several answers)"
    TEXT = "text", "Text entry"
    FORM = "form", "Text entry form"
    SLIDER = "slider", "Slider"
    RANK_ORDER = "rank_order", "Rank order"
    NPS = "nps", "Net Promoter Score"
    # Unsupported: answers are kept raw, "View in Qualtrics" is offered.
    MATRIX = "matrix", "Matrix table"
    SIDE_BY_SIDE = "side_by_side", "Side by side"
    CONSTANT_SUM = "constant_sum", "Constant sum"
    PICK_GROUP_RANK = "pick_group_rank", "Pick, group & rank"
    HOT_SPOT = "hot_spot", "Hot spot"
    HEAT_MAP = "heat_map", "Heat map"
    DRILL_DOWN = "drill_down", "Drill down"
    HIGHLIGHT = "highlight", "Highlight"
    SIGNATURE = "signature", "Signature"
    FILE_UPLOAD = "file_upload", "File upload"
    OTHER = "other", "Other question type"
    # Not answerable: nothing a participant answers.
    DESCRIPTIVE = "descriptive", "Descriptive text"
    TIMING = "timing", "Timing"
    META = "meta", "Meta info"
    CAPTCHA = "captcha", "Captcha"


class Support(models.TextChoices):
    SUPPORTED = "supported", "Supported"
    UNSUPPORTED = "unsupported", "Unsupported"
    NOT_ANSWERABLE = "not_answerable", "Not answerable"


SUPPORTED_KINDS = frozenset(
    {Kind.SINGLE_CHOICE, Kind.MULTIPLE_CHOICE, Kind.TEXT, Kind.FORM, Kind.SLIDER, Kind.RANK_ORDER, Kind.NPS}
)
NOT_ANSWERABLE_KINDS = frozenset({Kind.DESCRIPTIVE, Kind.TIMING, Kind.META, Kind.CAPTCHA})

# The sub-parts of DESIGN §5.7: `score` and `group` for NPS, `<choice id>` for slider statements, rank
# items and form fields, `<choice id>_text` for "other" text entries.
NPS_SCORE = "score"
NPS_GROUP = "group"
OTHER_TEXT_SUFFIX = "_text"
# NPS groups as choices of the `group` part, so a group maps to options like any choice.
NPS_GROUPS = (("1", "Detractor"), ("2", "Passive"), ("3", "Promoter"))


def support_of(kind: str) -> str:
    if kind in SUPPORTED_KINDS:
        return Support.SUPPORTED
    if kind in NOT_ANSWERABLE_KINDS:
        return Support.NOT_ANSWERABLE
    return Support.UNSUPPORTED


@dataclass(frozen=True)
class Choice:
    id: str  # the tool's choice id, e.g. "3"
    recode: str  # the value a response carries for it; often equal to id, not always
    label: str  # plain text, no HTML
    has_text: bool = False  # an "other, please specify" choice with a text entry


@dataclass(frozen=True)
class Part:
    """A mappable sub-part of a question: a slider statement, a rank item, a form field, the NPS
    score or group, an "other" text entry."""

    part: str
    label: str
    kind: str  # what the part's answer is: "number", "text" or "choice"
    choices: tuple[Choice, ...] = ()  # for kind "choice" (the NPS group)


@dataclass(frozen=True)
class QuestionDef:
    qid: str
    export_tag: str
    text: str  # sanitised HTML, safe to show
    plain_text: str  # the same without markup, for labels
    kind: str  # a Kind
    tool_kind: str  # the tool's own name, e.g. "MC/SAVR/TX", for "why unsupported"
    reason: str = ""  # why unsupported; empty when supported
    choices: tuple[Choice, ...] = ()
    parts: tuple[Part, ...] = ()
    # Whether the question as a whole (no part) carries an answer: MC and single text do; slider,
    # rank order, form and NPS answer only through their parts.
    whole: bool = True
    position: int = 0  # survey order, from 0

    @property
    def support(self) -> str:
        return support_of(self.kind)

    def part(self, name: str | None) -> Part | None:
        return next((p for p in self.parts if p.part == name), None)


@dataclass(frozen=True)
class ReportItem:
    """One line of the compatibility report (DESIGN §5.5)."""

    item: str  # what is checked, e.g. "Participant ID field"
    ok: bool
    fix: str = ""  # how to fix it in the tool, empty when ok


@dataclass(frozen=True)
class ImportedDefinition:
    survey_id: str
    name: str
    questions: tuple[QuestionDef, ...]  # survey order, deleted (Trash) questions left out
    report: tuple[ReportItem, ...]
    last_modified: datetime | None
    digest: str  # a hash of the definition as fetched: equal digests, same definition
    brand: str  # the tool's account (a Qualtrics brand id)
    base_url: str  # where participants take it (Qualtrics' BrandBaseURL)


@dataclass(frozen=True)
class SurveySummary:
    """A survey in the picker."""

    survey_id: str
    name: str
    active: bool
    last_modified: datetime | None = None


@dataclass(frozen=True)
class Links:
    take: str  # the anonymous link, without the participant field
    edit: str  # "View Survey in Qualtrics": the survey builder
    data: str  # the survey's responses page
    preview: str = ""


__all__ = [
    "Choice",
    "ImportedDefinition",
    "Kind",
    "Links",
    "Part",
    "QuestionDef",
    "ReportItem",
    "Support",
    "SurveySummary",
]
