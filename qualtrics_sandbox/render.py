"""Server-rendered HTML for the survey-taking pages: plain forms, labels, fieldsets, no scripts needed."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from .logic import Item
from .responses import Question

JSON = dict[str, Any]
# Question texts carry Qualtrics' HTML; keep simple emphasis and line breaks, drop the rest.
_KEEP = {"b", "strong", "i", "em", "u", "br", "p", "span"}
_TAG = re.compile(r"<(/?)([a-zA-Z0-9]+)[^>]*>")


def markup(text: str) -> str:
    parts = _TAG.split(text)
    # split() yields text, slash, name, text, ...; escape the text, rebuild kept tags.
    out: list[str] = []
    for i in range(0, len(parts), 3):
        out.append(escape(parts[i], quote=False))
        if i + 2 < len(parts):
            name = parts[i + 2].lower()
            if name in _KEEP:
                out.append(f"<{parts[i + 1]}{name}>")
    return "".join(out)


def layout(title: str, survey_name: str, body: str, preview: bool) -> str:
    banner = (
        '<p class="preview-banner" role="note">Preview: this response is recorded as a survey preview.</p>'
        if preview
        else ""
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} – {escape(survey_name)}</title>\n"
        '<link rel="stylesheet" href="/jfe/static/jfe.css">\n</head>\n<body>\n'
        '<main class="survey">\n'
        f'<header class="survey-header"><p class="survey-name">{escape(survey_name)}</p></header>\n'
        f"{banner}{body}\n</main>\n</body>\n</html>\n"
    )


def message_page(survey_name: str, heading: str, text: str, preview: bool = False) -> str:
    body = f'<section class="message"><h1>{escape(heading)}</h1><p>{escape(text)}</p></section>'
    return layout(heading, survey_name, body, preview)


def _checked(flag: bool) -> str:
    return " checked" if flag else ""


def _described(qid: str, error: str | None) -> str:
    return f' aria-describedby="{qid}-error" aria-invalid="true"' if error else ""


def _choice_list(q: Question, answers: JSON, error: str | None, multi: bool) -> str:
    chosen = answers.get(q.qid)
    picked = (
        set(chosen)
        if isinstance(chosen, list)
        else {cid for cid, code in q.recodes.items() if chosen is not None and code == str(chosen)}
    )
    kind = "checkbox" if multi else "radio"
    rows = []
    offered = set(q.offered(answers))  # carried-forward choices depend on earlier answers
    for cid, choice in q.choices:
        if cid not in offered:
            continue
        field_id = f"{q.qid}-{cid}"
        row = (
            f'<div class="choice"><input type="{kind}" id="{field_id}" name="{q.qid}" value="{escape(cid)}"'
            f"{_checked(cid in picked)}{_described(q.qid, error)}>"
            f'<label for="{field_id}">{markup(str(choice.get("Display", "")))}</label>'
        )
        if cid in q.text_entry:
            other = escape(str(answers.get(f"{q.qid}_{cid}_TEXT", "")))
            row += (
                f'<label class="visually-hidden" for="{field_id}-text">{escape(q.labels[cid])}: please specify</label>'
                f'<input type="text" class="other" id="{field_id}-text" name="{q.qid}_{cid}_TEXT" value="{other}">'
            )
        rows.append(row + "</div>")
    return "".join(rows)


def _dropdown(q: Question, answers: JSON, error: str | None) -> str:
    chosen = answers.get(q.qid)
    options = ['<option value="">Select one…</option>']
    offered = set(q.offered(answers))
    for cid, _ in q.choices:
        if cid not in offered:
            continue
        selected = " selected" if chosen is not None and q.recodes[cid] == str(chosen) else ""
        options.append(f'<option value="{escape(cid)}"{selected}>{escape(q.labels[cid])}</option>')
    return (
        f'<label class="visually-hidden" for="{q.qid}-select">{escape(q.text)}</label>'
        f'<select id="{q.qid}-select" name="{q.qid}"{_described(q.qid, error)}>{"".join(options)}</select>'
    )


def _nps(q: Question, answers: JSON, error: str | None) -> str:
    chosen = answers.get(q.qid)
    cells = []
    for cid, _ in q.choices:
        field_id = f"{q.qid}-{cid}"
        checked = _checked(chosen is not None and q.recodes[cid] == str(chosen))
        cells.append(
            f'<span class="scale-point"><input type="radio" id="{field_id}" name="{q.qid}" value="{escape(cid)}"'
            f'{checked}{_described(q.qid, error)}><label for="{field_id}">{escape(q.labels[cid])}</label></span>'
        )
    return (
        f'<div class="scale">{"".join(cells)}</div>'
        '<p class="scale-ends" aria-hidden="true"><span>Not at all likely</span><span>Extremely likely</span></p>'
    )


def _text(q: Question, answers: JSON, error: str | None) -> str:
    value = escape(str(answers.get(f"{q.qid}_TEXT", "")))
    name = f"{q.qid}_TEXT"
    label = f'<label class="visually-hidden" for="{q.qid}-text">{escape(q.text)}</label>'
    selector = q.data.get("Selector")
    if selector in ("ML", "ESTB"):
        rows = 3 if selector == "ML" else 6
        attributes = f'id="{q.qid}-text" name="{name}" rows="{rows}"{_described(q.qid, error)}'
        return f"{label}<textarea {attributes}>{value}</textarea>"
    validation = (q.data.get("Validation") or {}).get("Settings") or {}
    kind = (
        "password" if selector == "PW" else "email" if validation.get("ContentType") == "ValidEmailAddress" else "text"
    )
    return f'{label}<input type="{kind}" id="{q.qid}-text" name="{name}" value="{value}"{_described(q.qid, error)}>'


def _fields(q: Question, answers: JSON, error: str | None, kind: str) -> str:
    """One labelled input per choice: form fields, slider statements, constant-sum items, ranks."""
    rows = []
    for cid, _ in q.choices:
        key, field_id = f"{q.qid}_{cid}", f"{q.qid}-{cid}"
        value = answers.get(key, "")
        label = f'<label for="{field_id}">{escape(q.labels[cid])}</label>'
        common = f'id="{field_id}" name="{key}"{_described(q.qid, error)}'
        if kind == "slider":
            start = value if value != "" else int((q.low + q.high) // 2)
            control = (
                f'<input type="range" {common} min="{q.low:g}" max="{q.high:g}" step="1" value="{start}"'
                ' oninput="this.nextElementSibling.value=this.value">'
                f'<output for="{field_id}">{start}</output>'
            )
        elif kind == "constant_sum":
            control = f'<input type="number" inputmode="numeric" {common} min="0" max="{q.high:g}" value="{value}">'
        elif kind == "rank":
            position = value if value != "" else [c for c, _ in q.choices].index(cid) + 1
            options = "".join(
                f'<option value="{n}"{" selected" if n == position else ""}>{n}</option>'
                for n in range(1, len(q.choices) + 1)
            )
            control = f"<select {common}>{options}</select>"
        else:
            control = f'<input type="text" {common} value="{escape(str(value))}">'
        rows.append(f'<div class="field field-{kind}">{label}{control}</div>')
    hint = ""
    if kind == "rank":
        hint = '<p class="hint">1 is the most important. Give each item a different rank.</p>'
    if kind == "constant_sum":
        hint = f'<p class="hint">The amounts must add up to {q.high:g}.</p>'
    return hint + "".join(rows)


def _matrix(q: Question, answers: JSON, error: str | None) -> str:
    multi = q.kind == "matrix_multi"
    head = "".join(f'<th scope="col">{escape(q.answer_labels[aid])}</th>' for aid, _ in q.answers)
    body = []
    for cid, _ in q.choices:
        row_id = f"{q.qid}-{cid}-label"
        cells = []
        for aid, _ in q.answers:
            name = f"{q.qid}_{cid}_{aid}" if multi else f"{q.qid}_{cid}"
            kind = "checkbox" if multi else "radio"
            checked = bool(answers.get(name)) if multi else str(answers.get(name, "")) == q.answer_recodes[aid]
            cells.append(
                f'<td><input type="{kind}" name="{name}" value="{escape(aid)}"{_checked(checked)}'
                f' aria-label="{escape(q.labels[cid])}: {escape(q.answer_labels[aid])}"{_described(q.qid, error)}></td>'
            )
        group = "" if multi else ' role="radiogroup"'
        body.append(
            f'<tr{group} aria-labelledby="{row_id}"><th scope="row" id="{row_id}">{escape(q.labels[cid])}</th>'
            f"{''.join(cells)}</tr>"
        )
    return (
        '<div class="matrix-scroll"><table class="matrix"><thead><tr><td></td>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _drill_down(q: Question, answers: JSON, error: str | None, refreshed: bool) -> str:
    """One labelled select per level; a level lists the items under the choice above it.

    Without JavaScript "Update the lists" submits the page and it comes back with the next
    level filled; with it, choosing submits the same button (the hint says so beforehand).
    """
    qid = q.qid
    button_id = f"{qid}-refresh"
    on_change = f"this.form.requestSubmit(document.getElementById('{button_id}'))"
    rows = []
    parent: str | None = None
    offered = q.children(None)
    focused = False
    for index, (cid, _) in enumerate(q.choices):
        key, field_id = f"{qid}_{cid}", f"{qid}-{cid}"
        aid = q.answer_of(answers[key]) if key in answers else None
        chosen = aid if aid in offered else None
        if offered:
            options = ['<option value="">Select one…</option>']
            options += [
                f'<option value="{escape(item)}"{" selected" if item == chosen else ""}>'
                f"{escape(q.answer_labels[item])}</option>"
                for item in offered
            ]
            disabled = ""
        else:
            above = q.labels[q.choices[index - 1][0]] if index else ""
            empty = f"Choose {above} first" if parent is None and index else "Nothing more to choose"
            options = [f'<option value="">{escape(empty)}</option>']
            disabled = " disabled"
        autofocus = ""
        if refreshed and offered and chosen is None and not focused:
            autofocus, focused = " autofocus", True
        described = f"{qid}-hint {qid}-error" if error else f"{qid}-hint"
        invalid = ' aria-invalid="true"' if error else ""
        rows.append(
            f'<div class="field field-drill_down"><label for="{field_id}">{escape(q.labels[cid])}</label>'
            f'<select id="{field_id}" name="{key}" aria-describedby="{described}"{invalid}'
            f'{disabled}{autofocus} onchange="{on_change}">'
            f"{''.join(options)}</select></div>"
        )
        parent = chosen
        offered = q.children(chosen) if chosen is not None else []
    hint = f'<p class="hint" id="{qid}-hint">Choosing from a list updates the lists after it.</p>'
    button = (
        f'<div class="refresh"><button type="submit" class="secondary" id="{button_id}" name="_refresh"'
        f' value="{escape(qid)}">Update the lists</button></div>'
    )
    return hint + "".join(rows) + button


def _control(q: Question, answers: JSON, error: str | None, refreshed: bool = False) -> str:
    if q.kind == "mc_single":
        return (
            _dropdown(q, answers, error)
            if q.data.get("Selector") in ("DL", "SB")
            else _choice_list(q, answers, error, False)
        )
    if q.kind == "mc_multi":
        return _choice_list(q, answers, error, True)
    if q.kind == "nps":
        return _nps(q, answers, error)
    if q.kind == "text":
        return _text(q, answers, error)
    if q.kind in ("matrix_single", "matrix_multi"):
        return _matrix(q, answers, error)
    if q.kind == "drill_down":
        return _drill_down(q, answers, error, refreshed)
    return _fields(q, answers, error, q.kind)


def question_html(item: Item, answers: JSON, error: str | None, refreshed: str | None = None) -> str:
    if item.notice:
        return f'<div class="notice" role="note" id="{item.qid}">{escape(item.text)}</div>'
    if item.question is None:
        return f'<div class="descriptive">{markup(item.text)}</div>'
    q = item.question
    required = ' <span class="required">(required)</span>' if q.forced else ""
    message = f'<p class="error" id="{q.qid}-error">{escape(error)}</p>' if error else ""
    css = "question has-error" if error else "question"
    return (
        f'<fieldset class="{css}" id="{q.qid}"><legend>{markup(str(q.data.get("QuestionText", "")))}{required}</legend>'
        f"{message}{_control(q, answers, error, refreshed == q.qid)}</fieldset>"
    )


def form_page(
    survey_name: str,
    items: list[Item],
    answers: JSON,
    errors: dict[str, str],
    page_no: int,
    total: int,
    preview: bool,
    refreshed: str | None = None,
) -> str:
    """`refreshed`: the Drill Down whose lists were just updated (its next list gets focus)."""
    summary = ""
    if errors:
        texts = {item.qid: item.question.text for item in items if item.question is not None}
        links = "".join(
            f'<li><a href="#{qid}">{escape(texts.get(qid, ""))}: {escape(message)}</a></li>'
            for qid, message in errors.items()
        )
        summary = (
            '<div class="error-summary" role="alert" tabindex="-1"><h2>Please check your answers</h2>'
            f"<ul>{links}</ul></div>"
        )
    last = page_no == total
    progress = (
        f'<div class="progress"><label for="progress">Page {page_no} of {total}</label>'
        f'<progress id="progress" max="{total}" value="{page_no - 1}">{page_no - 1} of {total}</progress></div>'
    )
    questions = "".join(question_html(item, answers, errors.get(item.qid), refreshed) for item in items)
    button = "Submit" if last else "Next"
    body = (
        f'{progress}<form method="post" novalidate>{summary}{questions}'
        f'<div class="actions"><button type="submit">{button}</button></div></form>'
    )
    title = f"Page {page_no} of {total}" if not errors else f"Error: page {page_no} of {total}"
    return layout(title, survey_name, body, preview)
