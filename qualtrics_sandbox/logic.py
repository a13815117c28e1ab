"""What one respondent meets: the survey flow walked page by page.

Block randomizers show their subset, branches and display logic look at the answers given on
earlier pages, an EndSurvey element ends the walk, EmbeddedData elements with a fixed value set
it. Every decision left to chance (which blocks a randomizer shows, a question's choice order)
comes from a `Chooser`, so a session, a simulated respondent and a typed `respond` all walk the
same way. Answers are in the `respond` input form (see responses.py).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import definitions as d

if TYPE_CHECKING:
    from .responses import Compiled, Question

JSON = dict[str, Any]
LOCATOR = re.compile(r"^q://(QID\d+)/([A-Za-z]+)(?:/([^/]+))?(?:/([^/]+))?$")
NUMERIC = {"GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"}


class Unsupported(Exception):
    """A logic condition the sandbox cannot evaluate (the question is then shown; see README)."""


@dataclass
class Item:
    """One thing on a page: an answerable question, or descriptive text (question is None)."""

    qid: str
    question: Question | None
    text: str
    # A question type the sandbox cannot take answers for; `text` says so.
    notice: bool = False


# --- conditions ------------------------------------------------------------------------


def _number(raw: Any) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def _compare(operator: str, left: Any, right: Any) -> bool:
    if operator in NUMERIC:
        a, b = _number(left), _number(right)
        if a is None or b is None:
            return False
        return {
            "GreaterThan": a > b,
            "GreaterThanOrEqual": a >= b,
            "LessThan": a < b,
            "LessThanOrEqual": a <= b,
        }[operator]
    text = "" if left is None else str(left)
    if operator == "EqualTo":
        a, b = _number(left), _number(right)
        return a == b if a is not None and b is not None else text == str(right)
    if operator == "NotEqualTo":
        return not _compare("EqualTo", left, right)
    if operator == "Empty":
        return text == ""
    if operator == "NotEmpty":
        return text != ""
    if operator == "Contains":
        return str(right) in text
    if operator == "DoesNotContain":
        return str(right) not in text
    raise Unsupported(f"operator {operator!r}")


def _question_value(q: Question, what: str, part: str | None, sub: str | None, answers: JSON) -> tuple[str, Any]:
    """("selected"/"value", ...) for a locator's left operand."""
    qid = q.qid
    if what == "SelectableChoice":
        chosen = answers.get(qid)
        if q.kind == "mc_multi":
            return "selected", isinstance(chosen, list) and part in {str(c) for c in chosen}
        if q.kind in ("mc_single", "nps"):
            return "selected", chosen is not None and q.recodes.get(str(part)) == str(chosen)
    if what == "SelectableAnswer" and q.kind in ("matrix_single", "matrix_multi"):
        if q.kind == "matrix_multi":
            return "selected", bool(answers.get(f"{qid}_{part}_{sub}"))
        return "selected", str(answers.get(f"{qid}_{part}", "")) == q.answer_recodes.get(str(sub), "")
    if what == "SelectedChoicesRecode" and q.kind in ("mc_single", "nps"):
        return "value", answers.get(qid)
    if what == "ChoiceTextEntryValue":
        key = f"{qid}_TEXT" if part is None else f"{qid}_{part}_TEXT" if q.kind != "form" else f"{qid}_{part}"
        return "value", answers.get(key)
    if what == "ChoiceNumericEntryValue" and part is not None:
        return "value", answers.get(f"{qid}_{part}")
    raise Unsupported(f"locator {what!r} on a {q.kind} question")


def _expression(expr: JSON, survey: Compiled, answers: JSON, known: set[str], embedded: JSON) -> bool:
    operator = str(expr.get("Operator", ""))
    kind = expr.get("LogicType")
    if kind == "EmbeddedField":
        name = str(expr.get("LeftOperand", "")).removeprefix("e://Field/")
        return _compare(operator, embedded.get(name, ""), expr.get("RightOperand", ""))
    if kind != "Question":
        raise Unsupported(f"logic type {kind!r}")
    found = LOCATOR.match(str(expr.get("LeftOperand") or expr.get("ChoiceLocator") or ""))
    if found is None:
        raise Unsupported(f"left operand {expr.get('LeftOperand')!r}")
    qid, what, part, sub = found.groups()
    q = survey.question(qid)
    if q is None:
        raise Unsupported(f"{qid} is not an answerable question")
    # Only answers from pages already passed count; an unseen question is unanswered.
    seen = answers if qid in known else {}
    if operator in ("Displayed", "NotDisplayed"):
        return (qid in known) == (operator == "Displayed")
    mode, value = _question_value(q, what, part, sub, seen)
    if mode == "selected":
        if operator not in ("Selected", "NotSelected"):
            raise Unsupported(f"operator {operator!r} on a choice")
        return bool(value) == (operator == "Selected")
    return _compare(operator, value, expr.get("RightOperand", ""))


def _ordered_parts(node: JSON) -> list[JSON]:
    return [node[k] for k in sorted((k for k in node if k.isdigit()), key=int) if isinstance(node[k], dict)]


def _either(parts: list[tuple[str, bool]]) -> bool:
    """Join (conjunction, value) pairs; And binds tighter than Or (our reading)."""
    groups: list[bool] = []
    for conjunction, value in parts:
        if groups and conjunction == "And":
            groups[-1] = groups[-1] and value
        else:
            groups.append(value)
    return any(groups)


def holds(logic: Any, survey: Compiled, answers: JSON, known: set[str], embedded: JSON) -> bool:
    """Evaluate a DisplayLogic / BranchLogic object (QSF form); raises Unsupported."""
    if not isinstance(logic, dict):
        return True
    sets: list[tuple[str, bool]] = []
    for i, block in enumerate(_ordered_parts(logic)):
        terms = [
            (
                str(expr.get("Conjuction") or expr.get("Conjunction") or "And") if j else "And",
                _expression(expr, survey, answers, known, embedded),
            )
            for j, expr in enumerate(_ordered_parts(block))
        ]
        if terms:
            sets.append(
                (str(block.get("Conjuction") or block.get("Conjunction") or "Or") if i else "Or", _either(terms))
            )
    return _either(sets) if sets else True


# --- chance --------------------------------------------------------------------------


def subset_size(element: JSON, children: int) -> int:
    try:
        size = int(str(element.get("SubSet")))
    except ValueError:
        return children
    return children if size <= 0 or size > children else size


class Chooser:
    """Decides what chance decides, once per respondent; `decided` records it for display orders."""

    def __init__(self, rng: random.Random | None = None, decided: JSON | None = None) -> None:
        self.rng = rng or random.Random()
        self.decided: JSON = dict(decided or {})

    def blocks(self, element: JSON, children: list[JSON], answers: JSON, survey: Compiled) -> list[JSON]:
        key = f"{element.get('FlowID')}_DO"
        by_id = {str(c.get("FlowID")): c for c in children}
        if key in self.decided:
            return [by_id[f] for f in self.decided[key] if f in by_id]
        chosen = self.pick(element, children, answers, survey)
        self.decided[key] = [str(c.get("FlowID")) for c in chosen]
        return chosen

    def pick(self, element: JSON, children: list[JSON], answers: JSON, survey: Compiled) -> list[JSON]:
        return self.rng.sample(children, subset_size(element, len(children)))

    def choice_order(self, q: Question) -> list[str]:
        key = f"{q.qid}_DO"
        if key not in self.decided:
            ids = [cid for cid, _ in q.choices]
            if q.randomized:
                self.rng.shuffle(ids)
            self.decided[key] = ids
        return list(self.decided[key])


class InferringChooser(Chooser):
    """For a typed `respond`: a randomizer shows the blocks that were answered, filled up to its
    subset with unanswered blocks (those without forced questions first), in flow order."""

    def pick(self, element: JSON, children: list[JSON], answers: JSON, survey: Compiled) -> list[JSON]:
        size = subset_size(element, len(children))
        answered = [c for c in children if any(_answered(q, answers) for q in _questions_in(c, survey))]
        if len(answered) > size:
            ids = ", ".join(str(c.get("FlowID")) for c in answered)
            raise RandomizerError(f"{element.get('FlowID')} shows {size} of its blocks, but {ids} were answered")
        rest = [c for c in children if c not in answered]
        rest.sort(key=lambda c: any(q.forced for q in _questions_in(c, survey)))
        chosen = answered + rest[: size - len(answered)]
        return [c for c in children if c in chosen]

    def choice_order(self, q: Question) -> list[str]:
        self.decided.setdefault(f"{q.qid}_DO", [cid for cid, _ in q.choices])
        return list(self.decided[f"{q.qid}_DO"])


class RandomizerError(ValueError):
    """Answers to more randomized blocks than the randomizer shows."""


def _answered(q: Question, answers: JSON) -> bool:
    return any(key == q.qid or key.startswith(f"{q.qid}_") for key in answers)


def _questions_in(element: JSON, survey: Compiled) -> list[Question]:
    found: list[Question] = []
    blocks = {str(b.get("ID")): b for b in d.blocks(survey.definition)}
    stack = [element]
    while stack:
        node = stack.pop()
        if node.get("Type") in ("Standard", "Block"):
            for part in (blocks.get(str(node.get("ID"))) or {}).get("BlockElements") or []:
                q = survey.question(str(part.get("QuestionID"))) if isinstance(part, dict) else None
                if q is not None:
                    found.append(q)
        stack.extend(c for c in node.get("Flow") or [] if isinstance(c, dict))
    return found


# --- the walk ------------------------------------------------------------------------


@dataclass
class Walk:
    """Pages come out one at a time (`pages()`), each computed from the answers given so far,
    so a caller may answer a page before the next one is worked out."""

    survey: Compiled
    answers: JSON
    chooser: Chooser
    embedded: JSON = field(default_factory=dict)
    shown: list[str] = field(default_factory=list)
    end: JSON | None = None
    unsupported: dict[str, str] = field(default_factory=dict)
    _known: set[str] = field(default_factory=set)

    def pages(self) -> Iterator[list[Item]]:
        flow = self.survey.definition.get("SurveyFlow")
        if isinstance(flow, dict) and isinstance(flow.get("Flow"), list):
            yield from self._flow(flow["Flow"])
        else:
            for block in d.blocks(self.survey.definition):
                if block.get("Type") != "Trash":
                    yield from self._block(block)

    def finish(self) -> Walk:
        for _ in self.pages():
            pass
        return self

    def _flow(self, elements: list[Any]) -> Iterator[list[Item]]:
        blocks = {str(b.get("ID")): b for b in d.blocks(self.survey.definition)}
        for element in elements:
            if self.end is not None:
                return
            if not isinstance(element, dict):
                continue
            kind = element.get("Type")
            if kind in ("Standard", "Block"):
                block = blocks.get(str(element.get("ID")))
                if block is not None and block.get("Type") != "Trash":
                    yield from self._block(block)
            elif kind == "BlockRandomizer":
                children = [c for c in element.get("Flow") or [] if isinstance(c, dict)]
                if children:
                    yield from self._flow(self.chooser.blocks(element, children, self.answers, self.survey))
            elif kind == "Branch":
                if self._holds(element.get("BranchLogic"), str(element.get("FlowID"))):
                    yield from self._flow(element.get("Flow") or [])
            elif kind == "EndSurvey":
                self.end = element
            elif kind == "EmbeddedData":
                for entry in element.get("EmbeddedData") or []:
                    value = entry.get("Value") if isinstance(entry, dict) else None
                    # A fixed value is set when the flow reaches it; piped text is not evaluated.
                    if isinstance(value, str | int | float) and "${" not in str(value) and str(value) != "":
                        self.embedded[str(entry["Field"])] = str(value)
            else:
                yield from self._flow(element.get("Flow") or [])

    def _holds(self, logic: Any, where: str) -> bool:
        if not isinstance(logic, dict):
            return True
        try:
            return holds(logic, self.survey, self.answers, self._known, self.embedded)
        except Unsupported as exc:
            self.unsupported[where] = str(exc)
            return True

    def _block(self, block: JSON) -> Iterator[list[Item]]:
        for entries in self.survey.pages_of(block):
            page: list[Item] = []
            for qid, q, data, logic in entries:
                if logic is not None:
                    in_page = isinstance(logic, dict) and logic.get("inPage") in (True, "true")
                    saved = self._known
                    if in_page:
                        self._known = saved | {i.qid for i in page}
                    shown = self._holds(logic, qid)
                    self._known = saved
                    if not shown:
                        continue
                if q is not None:
                    page.append(Item(qid, q, ""))
                    self.shown.append(qid)
                elif data.get("QuestionType") == "DB":
                    page.append(Item(qid, None, str(data.get("QuestionText", ""))))
                else:
                    page.append(Item(qid, None, d.unavailable_notice(data), notice=True))
            if page:
                yield page
                if self.survey.has_logic:
                    # Answers on a page count for logic on later pages.
                    self._known.update(item.qid for item in page)
