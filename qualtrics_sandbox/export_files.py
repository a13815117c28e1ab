"""Writing an export file: JSON, NDJSON, CSV and TSV, one response at a time.

CSV and TSV have the three header rows of the recordings: export tags, question
texts, and `{"ImportId": ...}` keys (REFERENCE §7.1). JSON elements are the stored
single-response objects, so exports and `GET .../responses/{id}` always agree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import IO, Any
from zoneinfo import ZoneInfo

import orjson

from .clock import parse_iso
from .responses import Compiled, Question

JSON = dict[str, Any]

# (values key, CSV header, CSV question text), in the recorded column order.
METADATA = [
    ("startDate", "StartDate", "Start Date"),
    ("endDate", "EndDate", "End Date"),
    ("status", "Status", "Response Type"),
    ("ipAddress", "IPAddress", "IP Address"),
    ("progress", "Progress", "Progress"),
    ("duration", "Duration (in seconds)", "Duration (in seconds)"),
    ("finished", "Finished", "Finished"),
    ("recordedDate", "RecordedDate", "Recorded Date"),
    ("_recordId", "ResponseId", "Response ID"),
    ("recipientLastName", "RecipientLastName", "Recipient Last Name"),
    ("recipientFirstName", "RecipientFirstName", "Recipient First Name"),
    ("recipientEmail", "RecipientEmail", "Recipient Email"),
    ("externalDataReference", "ExternalReference", "External Data Reference"),
    ("locationLatitude", "LocationLatitude", "Location Latitude"),
    ("locationLongitude", "LocationLongitude", "Location Longitude"),
    ("distributionChannel", "DistributionChannel", "Distribution Channel"),
    ("userLanguage", "UserLanguage", "User Language"),
]
DATES = {"startDate", "endDate", "recordedDate"}
EXTENSIONS = {"json": "json", "ndjson": "ndjson", "csv": "csv", "tsv": "tsv"}


@dataclass
class Options:
    format: str = "json"
    use_labels: bool = False
    time_zone: str | None = None
    question_ids: list[str] | None = None
    metadata_ids: list[str] | None = None
    embedded_ids: list[str] | None = None

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.time_zone or "UTC")

    @property
    def filtered(self) -> bool:
        return self.question_ids is not None or self.metadata_ids is not None or self.embedded_ids is not None


@dataclass
class Column:
    header: str
    text: str
    import_id: JSON
    key: str
    choice: str | None = None  # set for one-column-per-choice multi answers


def _other_columns(q: Question, other: list[tuple[str, str]]) -> list[Column]:
    """ "Other, please specify" text: `QIDn_{choiceId}_TEXT`, as recorded (`QID1_10_TEXT`)."""
    return [
        Column(
            f"{q.tag}_{cid}_TEXT",
            f"{q.text} - {label} - Text",
            {"ImportId": f"{q.qid}_{cid}_TEXT"},
            f"{q.qid}_{cid}_TEXT",
        )
        for cid, label in other
    ]


def _question_columns(q: Question) -> list[Column]:
    qid, tag, text = q.qid, q.tag, q.text
    ids = [(cid, q.labels[cid]) for cid, _ in q.choices]
    other = [(cid, q.labels[cid]) for cid in q.text_entry]
    if q.kind == "mc_single":
        main = f"{text} - Selected Choice" if other else text
        return [Column(tag, main, {"ImportId": qid}, qid), *_other_columns(q, other)]
    if q.kind == "mc_multi":
        found = [
            Column(f"{tag}_{cid}", f"{text} - Selected Choice - {lbl}", {"ImportId": qid, "choiceId": cid}, qid, cid)
            for cid, lbl in ids
        ]
        return found + _other_columns(q, other)
    if q.kind == "nps":
        group = Column(f"{tag}_NPS_GROUP", f"{text} - Group", {"ImportId": f"{qid}_NPS_GROUP"}, f"{qid}_NPS_GROUP")
        return [group, Column(tag, text, {"ImportId": qid}, qid)]
    if q.kind == "text":
        return [Column(tag, text, {"ImportId": f"{qid}_TEXT"}, f"{qid}_TEXT")]
    if q.kind == "matrix_multi":
        return [
            Column(
                f"{tag}_{cid}_{aid}",
                f"{text} - {lbl} - {q.answer_labels[aid]}",
                {"ImportId": f"{qid}_{cid}", "choiceId": aid},
                f"{qid}_{cid}_{aid}",
            )
            for cid, lbl in ids
            for aid, _ in q.answers
        ]
    return [Column(f"{tag}_{cid}", f"{text} - {lbl}", {"ImportId": f"{qid}_{cid}"}, f"{qid}_{cid}") for cid, lbl in ids]


def columns(survey: Compiled, options: Options) -> list[Column]:
    zone_name = options.time_zone or "Z"
    found: list[Column] = []
    for key, header, text in METADATA:
        if options.metadata_ids is not None and key not in options.metadata_ids:
            continue
        import_id: JSON = {"ImportId": key}
        if key in DATES:
            import_id["timeZone"] = zone_name
        found.append(Column(header, text, import_id, key))
    for question in survey.questions:
        if options.question_ids is None or question.qid in options.question_ids:
            found += _question_columns(question)
    for name in survey.declared:
        if options.embedded_ids is None or name in options.embedded_ids:
            found.append(Column(name, name, {"ImportId": name}, name))
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def cell(column: Column, values: JSON, labels: JSON, options: Options) -> str:
    value = values.get(column.key)
    if value is None:
        return ""
    if column.choice is not None:
        if not isinstance(value, list) or column.choice not in value:
            return ""
        if options.use_labels:
            texts = labels.get(column.key) or []
            return str(texts[value.index(column.choice)]) if len(texts) > value.index(column.choice) else "1"
        return "1"
    if column.key in DATES:
        return parse_iso(str(value)).astimezone(options.zone).strftime("%Y-%m-%d %H:%M:%S")
    if options.use_labels and column.key in labels:
        return _text(labels[column.key])
    return _text(value)


def labelled(body: JSON) -> JSON:
    """useLabels: a value that has a label is replaced by it (our reading of Qualtrics' option)."""
    values = dict(body["values"])
    for key, label in body.get("labels", {}).items():
        if key in values:
            values[key] = label
    return {**body, "values": values}


def _keep(body: JSON, survey: Compiled, options: Options) -> JSON:
    meta = {key for key, _, _ in METADATA}
    keep_questions = set(options.question_ids or [])

    def wanted(key: str) -> bool:
        if key in meta:
            return options.metadata_ids is None or key in options.metadata_ids
        if key in survey.declared:
            return options.embedded_ids is None or key in options.embedded_ids
        return options.question_ids is None or key.split("_")[0] in keep_questions

    values = {k: v for k, v in body["values"].items() if wanted(k)}
    labels = {k: v for k, v in body.get("labels", {}).items() if wanted(k)}
    return {**body, "values": values, "labels": labels}


def write(
    out: IO[bytes],
    survey: Compiled,
    bodies: Iterable[bytes],
    options: Options,
    on_row: Callable[[], None] = lambda: None,
) -> None:
    """Write responses (stored JSON bodies, as bytes) to `out` in the chosen format."""
    raw = options.format in ("json", "ndjson") and not options.use_labels and not options.filtered
    if options.format in ("json", "ndjson"):
        json_lines = options.format == "ndjson"
        out.write(b"" if json_lines else b'{"responses":[')
        first = True
        for body in bodies:
            if raw:
                data = body
            else:
                parsed = _keep(orjson.loads(body), survey, options)
                data = orjson.dumps(labelled(parsed) if options.use_labels else parsed)
            if json_lines:
                out.write(data + b"\n")
            else:
                out.write(data if first else b"," + data)
            first = False
            on_row()
        out.write(b"" if json_lines else b"]}")
        return
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    table = csv.writer(text, delimiter="\t" if options.format == "tsv" else ",", lineterminator="\r\n")
    found = columns(survey, options)
    table.writerow([c.header for c in found])
    table.writerow([c.text for c in found])
    table.writerow([orjson.dumps(c.import_id).decode() for c in found])
    for body in bodies:
        parsed = orjson.loads(body)
        values, labels = parsed["values"], parsed.get("labels", {})
        table.writerow([cell(c, values, labels, options) for c in found])
        on_row()
    text.flush()
    text.detach()
