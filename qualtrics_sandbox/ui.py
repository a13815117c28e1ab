"""Read-only pages behind the Qualtrics UI deep links (REFERENCE §10), so every "View in Qualtrics"
link lands somewhere true: the survey builder, Data & Analysis, one response.

Data & Analysis links carry the survey in the URL fragment (`/responses/#/surveys/SV_x`), which
browsers never send; `/responses/` reads it with one line of script and moves to
`/responses/surveys/SV_x` (without script it lists the surveys). Loopback clients only, like the
control API: the pages show every response without a login.
"""

from __future__ import annotations

import ipaddress
from html import escape
from typing import Any

import orjson
from flask import Blueprint, Response, request

from . import definitions as d
from . import render, surveys
from .context import current_sandbox
from .responses import compile_survey

bp = Blueprint("ui", __name__)
LIMIT = 500


def _html(title: str, name: str, body: str, status: int = 200) -> Response:
    return Response(render.layout(title, name, body, False), status=status, mimetype="text/html")


@bp.before_request
def _loopback_only() -> Response | None:
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return Response("The sandbox's Qualtrics pages answer loopback clients only.", 403, mimetype="text/plain")
    return None


def _survey(survey_id: str) -> Any:
    return surveys.survey_row(current_sandbox().store, survey_id)


def _missing(what: str) -> Response:
    return _html(
        "Not found", "Qualtrics sandbox", f'<section class="message"><h1>{escape(what)} not found</h1></section>', 404
    )


@bp.get("/survey-builder/<survey_id>/edit")
def builder(survey_id: str) -> Response:
    row = _survey(survey_id)
    if row is None:
        return _missing("Survey")
    definition = surveys.stored_definition(row, current_sandbox().public_url)
    compiled = compile_survey(definition)
    items = []
    for qid in d.live_question_ids(definition):
        question = d.questions(definition)[qid]
        kind = f"{question.get('QuestionType')} / {question.get('Selector')}"
        q = compiled.question(qid)
        choices = "".join(f"<li>{escape(q.labels[cid])}</li>" for cid, _ in q.choices) if q else ""
        logic = " · shown by display logic" if question.get("DisplayLogic") else ""
        forced = " · forced response" if q is not None and q.forced else ""
        note = "" if q is not None else " · not answerable in the sandbox"
        items.append(
            f'<li class="question"><p><strong>{escape(qid)}</strong> ({escape(str(question.get("DataExportTag")))},'
            f" {escape(kind)}{logic}{forced}{note})</p><p>{render.markup(str(question.get('QuestionText', '')))}</p>"
            f"<ul>{choices}</ul></li>"
        )
    fields = ", ".join(escape(f) for f in compiled.declared) or "none"
    body = (
        f"<h1>{escape(row['name'])}</h1><p>Survey builder (read-only in the sandbox). {escape(survey_id)},"
        f" {'active' if row['is_active'] else 'inactive'}. Embedded data: {fields}.</p>"
        f'<p><a href="/responses/surveys/{escape(survey_id)}">Responses</a> ·'
        f' <a href="/jfe/preview/{escape(survey_id)}">Preview</a></p><ol class="questions">{"".join(items)}</ol>'
    )
    return _html("Survey builder", row["name"], body)


@bp.get("/responses/")
def data_and_analysis() -> Response:
    rows = current_sandbox().store.all("SELECT id, name FROM surveys ORDER BY seq")
    links = "".join(f'<li><a href="/responses/surveys/{escape(r["id"])}">{escape(r["name"])}</a></li>' for r in rows)
    # The survey (and response) travel in the fragment: #/surveys/SV_x[/responses/R_y].
    script = (
        "<script>if (/^#\\/surveys\\/[A-Za-z0-9_]+(\\/responses\\/[A-Za-z0-9_]+)?$/.test(location.hash))"
        " location.replace('/responses' + location.hash.slice(1));</script>"
    )
    body = f"{script}<h1>Data &amp; Analysis</h1><ul>{links}</ul>"
    return _html("Data & Analysis", "Qualtrics sandbox", body)


@bp.get("/responses/surveys/<survey_id>")
def survey_responses(survey_id: str) -> Response:
    row = _survey(survey_id)
    if row is None:
        return _missing("Survey")
    store = current_sandbox().store
    total = store.one("SELECT count(*) AS n FROM responses WHERE survey_id = ?", (survey_id,))
    found = store.all(
        "SELECT id, body, modified_at FROM responses WHERE survey_id = ? ORDER BY seq DESC LIMIT ?", (survey_id, LIMIT)
    )
    lines = []
    for response in found:
        values = orjson.loads(response["body"])["values"]
        edited = " (edited)" if response["modified_at"] else ""
        lines.append(
            f'<tr><th scope="row"><a href="/responses/surveys/{escape(survey_id)}/responses/{escape(response["id"])}">'
            f"{escape(response['id'])}</a></th><td>{escape(str(values.get('recordedDate')))}{edited}</td>"
            f"<td>{'Yes' if values.get('finished') else 'No'}</td>"
            f"<td>{escape(str(values.get('distributionChannel')))}</td></tr>"
        )
    count = total["n"] if total else 0
    shown = f"the newest {LIMIT} of {count}" if count > LIMIT else f"{count}"
    body = (
        f"<h1>{escape(row['name'])}: responses</h1><p>Data &amp; Analysis (read-only): {shown} responses."
        f' <a href="/survey-builder/{escape(survey_id)}/edit">Survey</a></p>'
        '<table class="matrix"><thead><tr><th scope="col">Response</th><th scope="col">Recorded</th>'
        f'<th scope="col">Finished</th><th scope="col">Channel</th></tr></thead><tbody>{"".join(lines)}</tbody></table>'
    )
    return _html("Responses", row["name"], body)


@bp.get("/responses/surveys/<survey_id>/responses/<response_id>")
def one_response(survey_id: str, response_id: str) -> Response:
    row = _survey(survey_id)
    body = surveys.get_response(current_sandbox().store, survey_id, response_id) if row else None
    if row is None or body is None:
        return _missing("Response")
    labels = body.get("labels", {})
    cells = "".join(
        f'<tr><th scope="row">{escape(key)}</th><td>{escape(orjson.dumps(value).decode())}</td>'
        f"<td>{escape(str(labels.get(key, '')))}</td></tr>"
        for key, value in body["values"].items()
    )
    page = (
        f"<h1>Response {escape(response_id)}</h1>"
        f'<p><a href="/responses/surveys/{escape(survey_id)}">All responses of {escape(row["name"])}</a></p>'
        '<table class="matrix"><thead><tr><th scope="col">Field</th><th scope="col">Value</th>'
        f'<th scope="col">Label</th></tr></thead><tbody>{cells}</tbody></table>'
    )
    return _html("Response", row["name"], page)
