"""What a survey tool's answer reader returns: one response, tool-neutral (DESIGN §3, §5.6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Text, a number (slider position, rank, NPS score), or the chosen choice ids (choice questions,
# the NPS group), in the question's choice order.
AnswerValue = str | float | tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    qid: str
    part: str | None  # None: the question as a whole
    value: AnswerValue
    label: str = ""  # how the tool showed it (choice labels joined), for people to read


@dataclass
class ResponseData:
    response_id: str
    participant_id: str  # the participant field's value as the response carries it; "" when absent
    finished: bool
    progress: int  # percent
    recorded_at: datetime | None
    last_modified_at: datetime | None  # when it was last changed at the tool; None if never
    channel: str  # how it was taken, e.g. "anonymous", "preview"
    is_test: bool  # a preview or test response: never touches properties or statuses
    answers: list[Answer] = field(default_factory=list)
    # Keys the reader did not understand, counted per question id; never fatal.
    unknown_keys: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the response as the tool gave it, whole
    started_at: datetime | None = None  # when the participant began it

    @property
    def as_of(self) -> datetime | None:
        """When its answers were true: the last change, else the recorded date (DESIGN §8)."""
        return self.last_modified_at or self.recorded_at
