"""The endpoint Qualtrics' event subscription posts to (REFERENCE §8).

Qualtrics posts application/x-www-form-urlencoded fields Topic, MSG (a JSON string) and HMAC, the
hex HMAC-SHA512 of the raw MSG keyed with the subscription's shared key. The payload carries no
answers: a new completed or partial response event queues a fetch of it (`sync.on_event`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import parse_qs

import orjson
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.timezone import now
from django.views.decorators.csrf import csrf_exempt

from muster.integrations.qualtrics import sync
from muster.integrations.qualtrics.models import QualtricsConnection, WebhookEvent, current_connection
from muster.ratelimits import over

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
KINDS = ("completedResponse", "partialResponse")


def sign(message: str, shared_key: str) -> str:
    return hmac.new(shared_key.encode(), message.encode(), hashlib.sha512).hexdigest()


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


class BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _read_body(request: HttpRequest) -> bytes:
    """The raw body, at most MAX_BODY bytes, with or without a Content-Length."""
    given = request.META.get("CONTENT_LENGTH")
    if given:
        try:
            length = int(given)
        except ValueError:
            raise BodyRefused(400, "Content-Length is not a number.") from None
        if length > MAX_BODY:
            raise BodyRefused(413, f"The body is larger than {MAX_BODY} bytes.")
        stream = request
    elif request.META.get("wsgi.input_terminated"):
        # A chunked body has no Content-Length, and Django reads such a body as empty. The server
        # (gunicorn) has decoded the chunks and ends the stream with them: read it there.
        stream = request.META["wsgi.input"]
    else:
        raise BodyRefused(411, "Send a Content-Length, or a chunked body to a server that decodes it.")
    body = stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise BodyRefused(413, f"The body is larger than {MAX_BODY} bytes.")
    return bytes(body)


def _kind(topic: str) -> str:
    for part in topic.split("."):
        if part in KINDS:
            return part
    return topic.rsplit(".", 2)[-2] if topic.count(".") >= 2 else topic


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


@csrf_exempt
def receive(request: HttpRequest) -> HttpResponse:
    # Qualtrics (and people checking the URL) may GET it: answer, do nothing.
    if request.method in ("GET", "HEAD"):
        return HttpResponse("Muster's Qualtrics webhook. Qualtrics posts events here.", content_type="text/plain")
    if request.method != "POST":
        return _answer(405, "Use POST.")
    seconds = over(request, "qualtrics-webhook", "1200/m")
    if seconds:
        response = _answer(429, f"Too many requests: try again in {seconds} s.")
        response["Retry-After"] = str(seconds)
        return response
    try:
        body = _read_body(request)
    except BodyRefused as e:
        return _answer(e.status, str(e))
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return _answer(400, "The body is not UTF-8 form data.")
    topic = (fields.get("Topic") or [""])[0]
    message = (fields.get("MSG") or [""])[0]
    signature = (fields.get("HMAC") or [""])[0].strip().lower()
    if not topic or not message:
        return _answer(400, "Expected form fields Topic and MSG.")
    connection = current_connection()
    if connection is None or not connection.shared_key_encrypted:
        # Not connected, disconnected (its key is wiped), or polling only: nothing can verify
        # this event, so it is refused and nothing is recorded.
        return _answer(403, "Muster has no Qualtrics event subscription to check this against.")
    # Verify the raw MSG exactly as received, before parsing it, in constant time.
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged HMAC may hold them).
    expected = sign(message, connection.shared_key.value).encode()
    if not signature or not hmac.compare_digest(expected, signature.encode()):
        logger.warning("Qualtrics webhook with a bad or missing HMAC refused (topic %s)", topic[:200])
        return _answer(403, "The HMAC does not match.")
    try:
        msg = orjson.loads(message)
    except orjson.JSONDecodeError:
        return _answer(400, "MSG is not JSON.")
    if not isinstance(msg, dict) or not isinstance(msg.get("ResponseID"), str):
        return _answer(400, "MSG has no ResponseID.")
    if "\x00" in topic or _holds_nul(msg):
        # No database column holds a NUL (PostgreSQL refuses it); Qualtrics never sends one.
        return _answer(400, "Topic or MSG holds a NUL character.")
    survey_id = msg.get("SurveyID") if isinstance(msg.get("SurveyID"), str) else topic.rsplit(".", 1)[-1]
    columns = {"topic": topic, "kind": _kind(topic), "survey_id": survey_id, "response_id": msg["ResponseID"]}
    # Stored whole or not at all: ids cut to fit would make two responses one. Qualtrics' ids are
    # about 17 characters; anything near these limits is not from Qualtrics.
    for column, value in columns.items():
        limit = getattr(WebhookEvent._meta.get_field(column), "max_length", None)
        if limit is not None and len(value) > limit:
            given = {"topic": "Topic", "kind": "Topic", "survey_id": "SurveyID", "response_id": "ResponseID"}[column]
            return _answer(400, f"{given} is longer than Muster stores ({limit} characters).")
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(connection=connection, message=msg, **columns)
    except IntegrityError:
        # Qualtrics may deliver the same event twice; the first one counts (and fetched).
        pass
    else:
        try:
            sync.on_event(event)
        except Exception:
            # Recorded, so never lost: the reconciliation export serves unprocessed events.
            logger.exception("Qualtrics webhook event %s recorded but not queued", event.pk)
    QualtricsConnection.objects.filter(pk=connection.pk).update(last_webhook_at=now())
    return _answer(200, "Recorded.")
