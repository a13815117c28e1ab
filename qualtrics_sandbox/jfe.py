"""Survey-taking pages: `/jfe/form/{SurveyID}` (anonymous link) and `/jfe/preview/{SurveyID}`.

Opening the link starts a session (FS_...) and redirects to its page; each POST
checks and stores one page; the last one records the response and redirects to
the end-of-survey URL with piped fields, or shows the end message.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
from flask import Blueprint, Response, redirect, request, send_from_directory
from werkzeug.wrappers import Response as BaseResponse

from . import definitions as d
from . import render, sessions, surveys, taking
from .context import current_sandbox
from .logic import Chooser, Item
from .responses import Compiled, compile_survey

bp = Blueprint("jfe", __name__)
STATIC = Path(__file__).parent / "static"
MODES = {"form": "anonymous", "preview": "preview"}
CHANNELS = {"anonymous", "social", "email"}


def _html(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/html")


def _survey(survey_id: str) -> tuple[sqlite3.Row, Compiled] | None:
    sandbox = current_sandbox()
    row = surveys.survey_row(sandbox.store, survey_id)
    if row is None:
        return None
    return row, compile_survey(surveys.stored_definition(row, sandbox.public_url))


def _not_found() -> Response:
    return _html(render.message_page("Survey", "Survey not found", "This link does not lead to a survey."), 404)


@bp.get("/jfe/static/<path:name>")
def static(name: str) -> BaseResponse:
    return send_from_directory(STATIC, name, max_age=300)


@bp.get("/jfe/<mode>/<survey_id>")
def open_link(mode: str, survey_id: str) -> BaseResponse:
    found = _survey(survey_id) if mode in MODES else None
    if found is None:
        return _not_found()
    row, survey = found
    if mode == "form" and not row["is_active"]:
        text = "Sorry, this survey is not currently active."
        return _html(render.message_page(row["name"], "Survey closed", text), 403)
    # Only fields the flow declares become embedded data; other parameters are dropped.
    embedded = {name: request.args[name] for name in survey.declared if name in request.args}
    channel = MODES[mode]
    if mode == "form" and request.args.get("Q_CHL") in CHANNELS:
        # Social-media and email links carry their channel (Q_CHL) in the anonymous link.
        channel = request.args["Q_CHL"]
    session = sessions.start(current_sandbox().store, survey_id, channel, embedded)
    return redirect(f"/jfe/{mode}/{survey_id}/{session['id']}", code=303)


def _session(mode: str, survey_id: str, session_id: str) -> tuple[sqlite3.Row, Compiled, sqlite3.Row] | Response:
    found = _survey(survey_id) if mode in MODES else None
    session = sessions.get(current_sandbox().store, session_id)
    if found is None or session is None or session["survey_id"] != survey_id:
        return _not_found()
    row, survey = found
    if session["state"] == "closed":
        text = "This response was closed after a period of inactivity. Open the survey link again to start over."
        return _html(render.message_page(row["name"], "Session expired", text, mode == "preview"), 410)
    return row, survey, session


def _pages(survey: Compiled, session: sqlite3.Row, answers: dict[str, Any]) -> tuple[list[list[Item]], Chooser]:
    plan = sessions.chooser(session)
    found, _ = taking.walk(survey, answers, plan)
    return found, plan


def _form(row: sqlite3.Row, mode: str, pages: list[list[Item]], number: int, answers: dict[str, Any], **kw: Any) -> str:
    return render.form_page(
        row["name"],
        pages[number],
        answers,
        kw.get("errors", {}),
        number + 1,
        len(pages),
        mode == "preview",
        kw.get("refreshed"),
    )


@bp.get("/jfe/<mode>/<survey_id>/<session_id>")
def show_page(mode: str, survey_id: str, session_id: str) -> BaseResponse:
    found = _session(mode, survey_id, session_id)
    if isinstance(found, Response):
        return found
    row, survey, session = found
    if session["state"] == "finished":
        return _finish(mode, survey, session)
    answers = orjson.loads(session["answers"])
    all_pages, plan = _pages(survey, session, answers)
    if not all_pages:
        return _html(
            render.message_page(row["name"], "Survey", "This survey has no questions to show.", mode == "preview")
        )
    number = min(session["page"], len(all_pages) - 1)
    sessions.save(current_sandbox().store, session_id, answers, number, plan)
    return _html(_form(row, mode, all_pages, number, answers))


@bp.post("/jfe/<mode>/<survey_id>/<session_id>")
def submit_page(mode: str, survey_id: str, session_id: str) -> BaseResponse:
    sandbox = current_sandbox()
    found = _session(mode, survey_id, session_id)
    if isinstance(found, Response):
        return found
    row, survey, session = found
    if session["state"] == "finished":
        return _finish(mode, survey, session)
    answers = orjson.loads(session["answers"])
    all_pages, plan = _pages(survey, session, answers)
    if not all_pages:
        return redirect(f"/jfe/{mode}/{survey_id}/{session_id}", code=303)
    number = min(session["page"], len(all_pages) - 1)
    items = all_pages[number]
    refreshed = request.form.get("_refresh")
    if refreshed:
        # A Drill Down's "Update the lists": keep the answers, stay on this page.
        taking.refresh_page(items, request.form, answers)
        sessions.save(sandbox.store, session_id, answers, number, plan)
        return _html(_form(row, mode, all_pages, number, answers, refreshed=refreshed))
    errors = taking.read_page(survey, items, request.form, answers, orjson.loads(session["embedded"]), plan)
    if errors:
        sessions.save(sandbox.store, session_id, answers, number, plan)
        return _html(_form(row, mode, all_pages, number, answers, errors=errors), 400)
    # The answers just given may show or hide what comes next (display logic, branches).
    all_pages, plan = _pages(survey, session, answers)
    sessions.save(sandbox.store, session_id, answers, number + 1, plan)
    if number + 1 < len(all_pages):
        return redirect(f"/jfe/{mode}/{survey_id}/{session_id}", code=303)
    sessions.save(sandbox.store, session_id, answers, number, plan)
    latest = sessions.get(sandbox.store, session_id)
    assert latest is not None
    sessions.record(sandbox, latest, finished=True)
    return _finish(mode, survey, latest)


def _finish(mode: str, survey: Compiled, session: sqlite3.Row) -> BaseResponse:
    definition = survey.definition
    _, walked = taking.walk(survey, orjson.loads(session["answers"]), sessions.chooser(session))
    target = taking.end_redirect(definition, walked.end)
    if target:
        fields = {**orjson.loads(session["embedded"]), **walked.embedded}
        url = taking.pipe(target, session["response_id"], fields)
        return redirect(url, code=302)
    name = str(definition.get("SurveyName") or d.plain_text(str(definition.get("SurveyID", ""))))
    return _html(render.message_page(name, "Thank you", taking.end_message(definition), mode == "preview"))
