"""Writing an export file: JSON, NDJSON, CSV and TSV, one response at a time.

CSV and TSV have the three header rows of the recordings: export tags, question
texts, and `{"ImportId": ...}` keys (REFERENCE §7.1). JSON elements are the stored
single-response objects, so exports and `GET .../responses/{id}` always agree.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import IO, Any
from zoneinfo import ZoneInfo

import orjson

from .clock import parse_iso
from .responses import RECIPIENT_KEYS, Compiled, Question

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
DATES = {"startDate", "endDate", "recordedDate", "lastModifiedDate"}
EXTENSIONS = {"json": "json", "ndjson": "ndjson", "csv": "csv", "tsv": "tsv"}
# surveyMetadataIds the spec lists; `externalReference` there is the `externalDataReference` key.
METADATA_IDS = {key for key, _, _ in METADATA} | {"externalReference"}
PERSONAL = {"ipAddress", "locationLatitude", "locationLongitude", *RECIPIENT_KEYS}
# Text iQ analytics columns a text question gets with --textiq, as recorded (QID34_TEXT_<hash>Sentiment...).
TEXTIQ = [
    ("ParTopics", "Parent Topics"),
    ("SenPol", "Sentiment Polarity"),
    ("SenScore", "Sentiment Score"),
    ("Sentiment", "Sentiment"),
    ("TopicSenLabel", "Topic Sentiment Label"),
    ("TopicSenScore", "Topic Sentiment Score"),
    ("Topics", "Topics"),
]
GOOD = {"good", "great", "love", "fresh", "quick", "fast", "fair", "happy", "easy"}
BAD = {"bad", "slow", "late", "hate", "poor", "expensive", "broken", "never"}


@dataclass
class Stored:
    """One stored response as an export reads it."""

    body: bytes
    extras: bytes | None = None
    last_modified: str | None = None


@dataclass
class Options:
    format: str = "json"
    use_labels: bool = False
    time_zone: str | None = None
    question_ids: list[str] | None = None
    metadata_ids: list[str] | None = None
    embedded_ids: list[str] | None = None
    display_order: bool = False
    label_columns: bool = False
    seen_unanswered: int | None = None
    multi_seen_unanswered: int | None = None
    newline: str | None = None
    breakout: bool = True
    decimal_comma: bool = False
    last_modified: bool = False
    textiq: bool = False

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.time_zone or "UTC")

    @property
    def filtered(self) -> bool:
        return self.question_ids is not None or self.metadata_ids is not None or self.embedded_ids is not None

    @property
    def raw(self) -> bool:
        """JSON exactly as stored: the fast path for plain exports."""
        return (
            self.format in ("json", "ndjson")
            and not self.use_labels
            and not self.filtered
            and not self.display_order
            and self.seen_unanswered is None
            and self.time_zone is None
            and not self.last_modified
            and not self.textiq
        )

    def wants_metadata(self, key: str) -> bool:
        if self.metadata_ids is None:
            return True
        return key in self.metadata_ids or (key == "externalDataReference" and "externalReference" in self.metadata_ids)


@dataclass
class Column:
    header: str
    text: str
    import_id: JSON
    key: str
    choice: str | None = None  # set for one-column-per-choice multi answers
    # "order": a display-order cell (position of `choice`, or the joined order); "labels": IsLabelsColumn.
    role: str = ""
    coded: bool = False
    joined: bool = False  # breakoutSets false: a multi answer in one cell


def _other_columns(q: Question, other: list[tuple[str, str]]) -> list[Column]:
    """A choice's text entry: `QIDn_{choiceId}_TEXT`, as recorded (`QID1_10_TEXT`, `QID1_3_TEXT`)."""
    return [
        Column(
            f"{q.tag}_{cid}_TEXT",
            f"{q.text} - {label} - Text",
            {"ImportId": f"{q.qid}_{cid}_TEXT"},
            f"{q.qid}_{cid}_TEXT",
        )
        for cid, label in other
    ]


def _question_columns(q: Question, options: Options) -> list[Column]:
    qid, tag, text = q.qid, q.tag, q.text
    ids = [(cid, q.labels[cid]) for cid, _ in q.choices]
    other = [(cid, q.labels[cid]) for cid in q.text_entry]
    found: list[Column]
    if q.kind == "mc_single":
        main = f"{text} - Selected Choice" if other else text
        found = [Column(tag, main, {"ImportId": qid}, qid, coded=True), *_other_columns(q, other)]
    elif q.kind == "mc_multi":
        if options.breakout:
            found = [
                Column(
                    f"{tag}_{cid}",
                    f"{text} - Selected Choice - {lbl}",
                    {"ImportId": qid, "choiceId": cid},
                    qid,
                    cid,
                    coded=True,
                )
                for cid, lbl in ids
            ]
        else:
            main = f"{text} - Selected Choice" if other else text
            found = [Column(tag, main, {"ImportId": qid}, qid, coded=True, joined=True)]
        found += _other_columns(q, other)
    elif q.kind == "nps":
        group = Column(
            f"{tag}_NPS_GROUP", f"{text} - Group", {"ImportId": f"{qid}_NPS_GROUP"}, f"{qid}_NPS_GROUP", coded=True
        )
        found = [group, Column(tag, text, {"ImportId": qid}, qid, coded=True)]
    elif q.kind == "text":
        found = [Column(tag, text, {"ImportId": f"{qid}_TEXT"}, f"{qid}_TEXT")]
    elif q.kind == "matrix_multi":
        if options.breakout:
            found = [
                Column(
                    f"{tag}_{cid}_{aid}",
                    f"{text} - {lbl} - {q.answer_labels[aid]}",
                    {"ImportId": f"{qid}_{cid}", "choiceId": aid},
                    f"{qid}_{cid}_{aid}",
                    coded=True,
                )
                for cid, lbl in ids
                for aid, _ in q.answers
            ]
        else:
            found = [
                Column(
                    f"{tag}_{cid}",
                    f"{text} - {lbl}",
                    {"ImportId": f"{qid}_{cid}"},
                    f"{qid}_{cid}",
                    coded=True,
                    joined=True,
                )
                for cid, lbl in ids
            ]
        found += _other_columns(q, other)
    else:
        coded = q.kind in ("matrix_single", "drill_down")
        found = [
            Column(f"{tag}_{cid}", f"{text} - {lbl}", {"ImportId": f"{qid}_{cid}"}, f"{qid}_{cid}", coded=coded)
            for cid, lbl in ids
        ]
        if q.kind != "form":
            found += _other_columns(q, other)
    if options.display_order and q.randomized:
        # As recorded: one column per choice, `{tag}_DO_{c}`, ImportId QIDn_DO + choiceId.
        if options.breakout:
            found += [
                Column(
                    f"{tag}_DO_{cid}",
                    f"{text} - Display Order - {lbl}",
                    {"ImportId": f"{qid}_DO", "choiceId": cid},
                    f"{qid}_DO",
                    cid,
                    role="order",
                )
                for cid, lbl in ids
            ]
        else:
            found.append(
                Column(
                    f"{tag}_DO",
                    f"{text} - Display Order",
                    {"ImportId": f"{qid}_DO"},
                    f"{qid}_DO",
                    role="order",
                    joined=True,
                )
            )
    return found


def textiq_id(survey_id: str, qid: str) -> str:
    """`QIDn_TEXT_<24 hex>`: a stable stand-in for the recorded Text iQ model hash."""
    return f"{qid}_TEXT_{hashlib.sha256(f'{survey_id}:{qid}'.encode()).hexdigest()[:24]}"


def textiq_values(survey: Compiled, body: JSON) -> JSON:
    """Text iQ's analytics for each answered text question (a crude word count, our stand-in)."""
    found: JSON = {}
    survey_id = str(survey.definition.get("SurveyID", ""))
    for q in survey.questions:
        text = body["values"].get(f"{q.qid}_TEXT")
        if q.kind != "text" or not isinstance(text, str):
            continue
        words = set(text.lower().split())
        score = len(words & GOOD) - len(words & BAD)
        mood = "Positive" if score > 0 else "Negative" if score < 0 else "Neutral"
        base = textiq_id(survey_id, q.qid)
        for suffix, value in zip([s for s, _ in TEXTIQ], ["", 0, score, mood, "", "", "Unknown"], strict=True):
            found[f"{base}{suffix}"] = value
    return found


def columns(survey: Compiled, options: Options) -> list[Column]:
    zone_name = options.time_zone or "Z"
    found: list[Column] = []
    metadata = list(METADATA)
    if options.last_modified:
        # Added by sortByLastModifiedDate [S]; placed after the standard metadata (our choice).
        metadata.append(("lastModifiedDate", "LastModifiedDate", "Last Modified Date"))
    for key, header, text in metadata:
        if survey.anonymized and key in PERSONAL:
            continue  # an anonymised survey records no IP, location or contact (the 10-column recording)
        if key != "lastModifiedDate" and not options.wants_metadata(key):
            continue
        import_id: JSON = {"ImportId": key}
        if key in DATES:
            import_id["timeZone"] = zone_name
        found.append(Column(header, text, import_id, key, coded=key in ("status", "finished")))
    for question in survey.questions:
        if options.question_ids is None or question.qid in options.question_ids:
            found += _question_columns(question, options)
    for name in survey.declared:
        if options.embedded_ids is None or name in options.embedded_ids:
            found.append(Column(name, name, {"ImportId": name}, name))
    # Block randomizers' display order: with includeDisplayOrder, and always when ids narrow the export [S].
    if options.display_order or options.filtered:
        for flow_id in randomizers(survey.definition):
            found.append(
                Column(
                    f"{flow_id}_DO",
                    f"{flow_id} - Block Randomizer - Display Order",
                    {"ImportId": f"{flow_id}_DO"},
                    f"{flow_id}_DO",
                    role="order",
                    joined=True,
                )
            )
    if options.textiq:
        survey_id = str(survey.definition.get("SurveyID", ""))
        for q in survey.questions:
            if q.kind == "text" and (options.question_ids is None or q.qid in options.question_ids):
                base = textiq_id(survey_id, q.qid)
                found += [
                    Column(f"{q.tag} - {name}", f"{q.tag} - {name}", {"ImportId": f"{base}{suffix}"}, f"{base}{suffix}")
                    for suffix, name in TEXTIQ
                ]
    if options.label_columns:
        # A label column after each coded one, marked IsLabelsColumn in row 3 [S]; rows 1 and 2 repeat (our choice).
        labelled: list[Column] = []
        for column in found:
            labelled.append(column)
            if column.coded:
                labelled.append(replace(column, import_id={**column.import_id, "IsLabelsColumn": True}, role="labels"))
        found = labelled
    return found


def randomizers(definition: JSON) -> list[str]:
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("Type") == "BlockRandomizer" and node.get("Flow"):
                found.append(str(node.get("FlowID")))
            for child in node.get("Flow") or []:
                visit(child)

    visit(definition.get("SurveyFlow"))
    return found


def _text(value: Any, options: Options) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_text(v, options) for v in value)
    text = str(value)
    if options.decimal_comma and isinstance(value, float):
        text = text.replace(".", ",")
    if options.newline is not None and isinstance(value, str):
        text = text.replace("\r\n", options.newline).replace("\n", options.newline).replace("\r", options.newline)
    return text


def _seen(column: Column, shown: set[str], options: Options) -> str | None:
    """seenUnansweredRecode: a displayed coded field left blank (our reading: not free text)."""
    if column.key not in shown or options.seen_unanswered is None or not column.coded:
        return None
    recode = options.multi_seen_unanswered if column.choice is not None or column.joined else options.seen_unanswered
    return None if recode is None else str(recode)


def cell(column: Column, values: JSON, labels: JSON, options: Options, shown: set[str], orders: JSON) -> str:
    labels_wanted = options.use_labels or column.role == "labels"
    if column.role == "order":
        order = orders.get(column.key)
        if not order:
            return ""
        if column.choice is None:
            return "|".join(str(v) for v in order)
        return str(order.index(column.choice) + 1) if column.choice in order else ""
    value = values.get(column.key)
    if value is None:
        return _seen(column, shown, options) or ""
    if column.choice is not None:
        if not isinstance(value, list) or column.choice not in value:
            return _seen(column, shown, options) or ""
        if labels_wanted:
            texts = labels.get(column.key) or []
            return str(texts[value.index(column.choice)]) if len(texts) > value.index(column.choice) else "1"
        return "1"
    if column.key in DATES:
        return parse_iso(str(value)).astimezone(options.zone).strftime("%Y-%m-%d %H:%M:%S")
    if labels_wanted and column.key in labels:
        return _text(labels[column.key], options)
    if options.decimal_comma and column.key in ("locationLatitude", "locationLongitude"):
        return str(value).replace(".", ",")
    return _text(value, options)


def labelled(body: JSON) -> JSON:
    """useLabels: a value that has a label is replaced by it (our reading of Qualtrics' option)."""
    values = dict(body["values"])
    for key, label in body.get("labels", {}).items():
        if key in values:
            values[key] = label
    return {**body, "values": values}


def _keep(body: JSON, survey: Compiled, options: Options) -> JSON:
    meta = {key for key, _, _ in METADATA} | {"lastModifiedDate"}
    keep_questions = set(options.question_ids or [])

    def wanted(key: str) -> bool:
        if key in meta:
            return key == "lastModifiedDate" or options.wants_metadata(key)
        if key in survey.declared:
            return options.embedded_ids is None or key in options.embedded_ids
        if key.startswith("FL_"):
            return True
        return options.question_ids is None or key.split("_")[0] in keep_questions

    values = {k: v for k, v in body["values"].items() if wanted(k)}
    labels = {k: v for k, v in body.get("labels", {}).items() if wanted(k)}
    return {**body, "values": values, "labels": labels}


def _zoned(value: str, zone: tzinfo) -> str:
    moment = parse_iso(value).astimezone(zone)
    return moment.isoformat(timespec="milliseconds" if "." in value else "seconds")


def _json_element(stored: Stored, survey: Compiled, options: Options) -> JSON:
    body: JSON = orjson.loads(stored.body)
    values = body["values"]
    if options.last_modified:
        values["lastModifiedDate"] = stored.last_modified or values.get("recordedDate")
    if options.display_order and stored.extras:
        for key, order in orjson.loads(stored.extras).items():
            if not key.endswith("_DO"):
                continue
            q = survey.question(key.removesuffix("_DO"))
            if key.startswith("FL_"):
                values[key] = order
            elif q is not None and q.randomized:
                values[key] = order
                body["labels"][key] = [q.labels.get(cid, cid) for cid in order]
    if options.seen_unanswered is not None:
        for key in body.get("displayedFields", []):
            q = survey.question(key.split("_")[0])
            if key not in values and q is not None and q.coded and not key.endswith("_TEXT"):
                values[key] = options.multi_seen_unanswered if q.kind == "mc_multi" else options.seen_unanswered
    if options.textiq:
        values.update(textiq_values(survey, body))
    if options.time_zone:
        for key in DATES:
            if isinstance(values.get(key), str):
                values[key] = _zoned(values[key], options.zone)
    if options.filtered:
        body = _keep(body, survey, options)
    return labelled(body) if options.use_labels else body


def write(
    out: IO[bytes],
    survey: Compiled,
    bodies: Iterable[Stored],
    options: Options,
    on_row: Callable[[], None] = lambda: None,
) -> None:
    """Write responses (stored JSON bodies) to `out` in the chosen format."""
    if options.format in ("json", "ndjson"):
        json_lines = options.format == "ndjson"
        out.write(b"" if json_lines else b'{"responses":[')
        first = True
        for stored in bodies:
            data = stored.body if options.raw else orjson.dumps(_json_element(stored, survey, options))
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
    for stored in bodies:
        parsed = orjson.loads(stored.body)
        values, labels = parsed["values"], parsed.get("labels", {})
        if options.last_modified:
            values["lastModifiedDate"] = stored.last_modified or values.get("recordedDate")
        if options.textiq:
            values.update(textiq_values(survey, parsed))
        orders = orjson.loads(stored.extras) if stored.extras and (options.display_order or options.filtered) else {}
        shown = set(parsed.get("displayedFields", [])) if options.seen_unanswered is not None else set()
        table.writerow([cell(c, values, labels, options, shown, orders) for c in found])
        on_row()
    text.flush()
    text.detach()
