"""Survey-taking pages: `/jfe/form/{SurveyID}` (anonymous link) and `/jfe/preview/{SurveyID}`.

Opening the link starts a session (FS_...) and redirects to its page; each POST
checks and stores one page; the last one records the response and redirects to
the end-of-survey URL with piped fields, or shows the end message.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
from flask import Blueprint, Response, redirect, request, send_from_directory
from werkzeug.wrappers import Response as BaseResponse

from . import definitions as d
from . import render, sessions, surveys, taking
from .context import current_sandbox
from .responses import Compiled, compile_survey

bp = Blueprint("jfe", __name__)
STATIC = Path(__file__).parent / "static"
MODES = {"form": "anonymous", "preview": "preview"}


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
    session = sessions.start(current_sandbox().store, survey_id, MODES[mode], embedded)
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


@bp.get("/jfe/<mode>/<survey_id>/<session_id>")
def show_page(mode: str, survey_id: str, session_id: str) -> BaseResponse:
    found = _session(mode, survey_id, session_id)
    if isinstance(found, Response):
        return found
    row, survey, session = found
    if session["state"] == "finished":
        return _finish(mode, survey, session)
    all_pages = taking.pages(survey)
    number = min(session["page"], len(all_pages) - 1)
    html = render.form_page(
        row["name"],
        all_pages[number],
        orjson.loads(session["answers"]),
        {},
        number + 1,
        len(all_pages),
        mode == "preview",
    )
    return _html(html)


@bp.post("/jfe/<mode>/<survey_id>/<session_id>")
def submit_page(mode: str, survey_id: str, session_id: str) -> BaseResponse:
    sandbox = current_sandbox()
    found = _session(mode, survey_id, session_id)
    if isinstance(found, Response):
        return found
    row, survey, session = found
    if session["state"] == "finished":
        return _finish(mode, survey, session)
    all_pages = taking.pages(survey)
    number = min(session["page"], len(all_pages) - 1)
    answers = orjson.loads(session["answers"])
    refreshed = request.form.get("_refresh")
    if refreshed:
        # A Drill Down's "Update the lists": keep the answers, stay on this page.
        taking.refresh_page(all_pages[number], request.form, answers)
        sessions.save(sandbox.store, session_id, answers, number)
        page = render.form_page(
            row["name"], all_pages[number], answers, {}, number + 1, len(all_pages), mode == "preview", refreshed
        )
        return _html(page)
    errors = taking.read_page(survey, all_pages[number], request.form, answers, orjson.loads(session["embedded"]))
    if errors:
        sessions.save(sandbox.store, session_id, answers, number)
        page = render.form_page(
            row["name"], all_pages[number], answers, errors, number + 1, len(all_pages), mode == "preview"
        )
        return _html(page, 400)
    if number + 1 < len(all_pages):
        sessions.save(sandbox.store, session_id, answers, number + 1)
        return redirect(f"/jfe/{mode}/{survey_id}/{session_id}", code=303)
    sessions.save(sandbox.store, session_id, answers, number)
    latest = sessions.get(sandbox.store, session_id)
    assert latest is not None
    sessions.record(sandbox, latest, finished=True)
    return _finish(mode, survey, latest)


def _finish(mode: str, survey: Compiled, session: sqlite3.Row) -> BaseResponse:
    definition = survey.definition
    target = taking.end_redirect(definition)
    if target:
        url = taking.pipe(target, session["response_id"], orjson.loads(session["embedded"]))
        return redirect(url, code=302)
    name = str(definition.get("SurveyName") or d.plain_text(str(definition.get("SurveyID", ""))))
    return _html(render.message_page(name, "Thank you", taking.end_message(definition), mode == "preview"))
