"""What taking a survey needs apart from HTML: pages, reading a submitted page, the end of survey.

Answers are read into the `respond` input form (recode values, choice-id lists,
`QIDn_TEXT`, ...) and checked by the same code that keys a `respond`, so a page
taken in the browser is stored exactly like a control-API response.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from werkzeug.datastructures import MultiDict

from . import definitions as d
from .clock import now
from .logic import Chooser, Item, Walk
from .responses import Compiled, InvalidAnswerError, Question, Submission, build_response

JSON = dict[str, Any]
PIPE = re.compile(r"\$\{e://Field/([^}]+)\}")
DEFAULT_END = "We thank you for your time spent taking this survey. Your response has been recorded."


def walk(survey: Compiled, answers: JSON, chooser: Chooser) -> tuple[list[list[Item]], Walk]:
    """This respondent's pages, worked out from their answers so far (display logic, branches,
    randomizers), and the walk itself (where it ended, embedded data the flow set)."""
    found = Walk(survey, answers, chooser)
    return list(found.pages()), found


def _number(raw: str) -> int | float | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


def read_question(q: Question, form: MultiDict[str, str], answers: JSON) -> str | None:
    """Move this question's submitted fields into `answers`; returns an error message or None."""
    qid = q.qid
    for key in [k for k in answers if k == qid or k.startswith(f"{qid}_")]:
        del answers[key]
    missing = False
    if q.kind in ("mc_single", "nps"):
        cid = form.get(qid, "")
        if cid in q.recodes and cid in q.offered(answers):
            answers[qid] = d.as_number(q.recodes[cid])
        missing = qid not in answers
    elif q.kind == "mc_multi":
        offered = set(q.offered(answers))
        picked = [cid for cid in form.getlist(qid) if cid in offered]
        if picked:
            answers[qid] = picked
        missing = not picked
    elif q.kind == "text":
        text = form.get(f"{qid}_TEXT", "").strip()
        if text:
            answers[f"{qid}_TEXT"] = text
        missing = not text
    elif q.kind == "form":
        for cid, _ in q.choices:
            text = form.get(f"{qid}_{cid}", "").strip()
            if text:
                answers[f"{qid}_{cid}"] = text
            else:
                missing = True
    elif q.kind in ("slider", "constant_sum", "rank"):
        for cid, _ in q.choices:
            number = _number(form.get(f"{qid}_{cid}", ""))
            if number is not None:
                answers[f"{qid}_{cid}"] = number
            else:
                missing = True
        if q.kind == "rank" and not missing:
            ranks = sorted(answers[f"{qid}_{cid}"] for cid, _ in q.choices)
            if ranks != list(range(1, len(q.choices) + 1)):
                return "Give each item a different rank."
    elif q.kind == "matrix_single":
        for cid, _ in q.choices:
            aid = form.get(f"{qid}_{cid}", "")
            if aid in q.answer_recodes:
                answers[f"{qid}_{cid}"] = d.as_number(q.answer_recodes[aid])
            else:
                missing = True
    elif q.kind == "matrix_multi":
        for cid, _ in q.choices:
            row = [aid for aid, _ in q.answers if form.get(f"{qid}_{cid}_{aid}")]
            for aid in row:
                answers[f"{qid}_{cid}_{aid}"] = 1
            missing = missing or not row
    elif q.kind == "drill_down":
        stale, complete = _read_drill_down(q, form, answers)
        missing = not complete
        if stale:
            return "The lists changed with your choice above them; please choose again."
    chosen = answers.get(qid)
    chosen_ids = chosen if isinstance(chosen, list) else [form.get(qid, "")]
    for cid in q.text_entry:
        text = form.get(f"{qid}_{cid}_TEXT", "").strip()
        if text and (cid in chosen_ids or q.kind not in ("mc_single", "mc_multi")):
            answers[f"{qid}_{cid}_TEXT"] = text
    if q.forced and missing:
        return (
            "Please answer this question."
            if q.kind not in ("form", "matrix_single", "matrix_multi", "drill_down")
            else ("Please answer every part of this question.")
        )
    return None


def _read_drill_down(q: Question, form: MultiDict[str, str], answers: JSON) -> tuple[bool, bool]:
    """Read the levels' selects (answer ids) from the top; returns (stale, complete).

    A level whose item does not sit under the level above (the respondent changed an
    upper list without refreshing) ends the path and is reported as stale.
    """
    parent: str | None = None
    for cid, _ in q.choices:
        aid = form.get(f"{q.qid}_{cid}", "")
        if not aid:
            break
        if aid not in q.answer_recodes or q.parents.get(aid) != parent:
            return True, False
        answers[f"{q.qid}_{cid}"] = d.as_number(q.answer_recodes[aid])
        parent = aid
    complete = parent is not None and (not q.children(parent) or f"{q.qid}_{q.choices[-1][0]}" in answers)
    return False, complete


def refresh_page(items: list[Item], form: MultiDict[str, str], answers: JSON) -> None:
    """A Drill Down's "Update the lists": keep what was entered, check nothing, stay on the page."""
    for item in items:
        if item.question is not None:
            read_question(item.question, form, answers)


def read_page(
    survey: Compiled,
    items: list[Item],
    form: MultiDict[str, str],
    answers: JSON,
    embedded: JSON,
    chooser: Chooser,
) -> dict[str, str]:
    """Update `answers` from a submitted page; returns error messages by question id."""
    errors: dict[str, str] = {}
    for item in items:
        if item.question is None:
            continue
        message = read_question(item.question, form, answers)
        if message:
            errors[item.qid] = message
    if not errors:
        # The same checks as a `respond` (forced answers on later pages are not due yet).
        check = Submission(values=dict(answers), embedded_data=embedded, finished=False)
        try:
            build_response(survey, "R_check", check, now(), chooser)
        except InvalidAnswerError as exc:
            qid = str(exc).split(":")[0].split("_")[0]
            message = str(exc).split(": ", 1)[-1]
            errors[qid if any(i.qid == qid for i in items) else items[0].qid] = message[:1].upper() + message[1:] + "."
    return errors


def end_redirect(definition: JSON, reached: JSON | None) -> str | None:
    """The EndSurvey element the respondent reached decides (its own redirect), else the
    survey's options (SurveyTermination: Redirect)."""
    options = (reached or {}).get("Options") or {}
    if options.get("SurveyTermination") == "Redirect" and options.get("EOSRedirectURL"):
        return str(options["EOSRedirectURL"])
    options = definition.get("SurveyOptions") or {}
    url = str(options.get("EOSRedirectURL") or "")
    if options.get("SurveyTermination") == "Redirect" and url not in ("", "https://", "http://"):
        return url
    return None


def pipe(template: str, response_id: str, fields: JSON) -> str:
    """Replace `${e://Field/ResponseID}` and `${e://Field/<name>}` with URL-encoded values."""

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        raw = response_id if name == "ResponseID" else fields.get(name, "")
        return quote(str(raw), safe="")

    return PIPE.sub(value, template)


def end_message(definition: JSON) -> str:
    options = definition.get("SurveyOptions") or {}
    message = options.get("EOSMessage")
    # In Qualtrics EOSMessage names a library message; a plain sentence is shown as is.
    if isinstance(message, str) and message and not message.startswith("MS_"):
        return message
    return DEFAULT_END
