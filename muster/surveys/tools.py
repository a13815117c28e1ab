"""Survey tools (Qualtrics today) as `surveys` sees them: a small protocol each integration
implements and registers from its AppConfig.ready(), so `surveys` never imports an integration
(DESIGN §3). Every call may raise ToolError, whose message is written for the person who asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from muster.surveys.answers import ResponseData
from muster.surveys.questions import ImportedDefinition, Links, QuestionDef, SurveySummary


class ToolError(Exception):
    """The tool could not do it; the message says why and what to do. `transient`: try again later."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class SurveyTool(Protocol):
    name: str  # "qualtrics": what SurveyForm.tool holds
    label: str  # "Qualtrics"

    def unavailable(self) -> str:
        """Why the tool cannot be used now (e.g. not connected), or "" when it can."""
        ...

    def surveys(self) -> list[SurveySummary]:
        """The surveys the picker offers: those shared with the service user, active or not."""
        ...

    def definition(self, survey_id: str, participant_field: str) -> ImportedDefinition:
        """The survey's questions and its compatibility report, fetched now."""
        ...

    def latest_responses(
        self, survey_id: str, questions: Sequence[QuestionDef], participant_field: str, limit: int
    ) -> list[ResponseData]:
        """The survey's latest `limit` responses (newest first), read with these questions."""
        ...

    def links(self, survey_id: str, base_url: str) -> Links:
        """Where to take, edit and see the survey; `base_url` as the definition gave it."""
        ...


tools: dict[str, SurveyTool] = {}


def register(tool: SurveyTool) -> None:
    tools[tool.name] = tool


def get(name: str) -> SurveyTool:
    try:
        return tools[name]
    except KeyError:
        raise ToolError(f"No survey tool “{name}” is installed.") from None


def choices() -> list[tuple[str, str]]:
    """(name, label) of every installed tool, for "Survey Tool"."""
    return [(t.name, t.label) for t in tools.values()]


__all__ = ["ResponseData", "SurveyTool", "ToolError", "get", "register"]
