"""The endpoint Qualtrics' event subscription posts to (REFERENCE §8).

Qualtrics posts application/x-www-form-urlencoded fields Topic, MSG (a JSON string) and HMAC, the
hex HMAC-SHA512 of the raw MSG keyed with the subscription's shared key. The payload carries no
answers; ingestion fetches the response later.
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
from django_ratelimit.core import is_ratelimited

from muster.integrations.qualtrics.models import QualtricsConnection, WebhookEvent

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
KINDS = ("completedResponse", "partialResponse")


def sign(message: str, shared_key: str) -> str:
    return hmac.new(shared_key.encode(), message.encode(), hashlib.sha512).hexdigest()


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


def _read_body(request: HttpRequest) -> bytes | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > MAX_BODY:
        return None
    body = request.read(MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


def _kind(topic: str) -> str:
    for part in topic.split("."):
        if part in KINDS:
            return part
    return topic.rsplit(".", 2)[-2] if topic.count(".") >= 2 else topic


@csrf_exempt
def receive(request: HttpRequest) -> HttpResponse:
    # Qualtrics (and people checking the URL) may GET it: answer, do nothing.
    if request.method in ("GET", "HEAD"):
        return HttpResponse("Muster's Qualtrics webhook. Qualtrics posts events here.", content_type="text/plain")
    if request.method != "POST":
        return _answer(405, "Use POST.")
    if is_ratelimited(request, group="qualtrics-webhook", key="ip", rate="1200/m", increment=True):
        return _answer(429, "Too many requests.")
    body = _read_body(request)
    if body is None:
        return _answer(413, f"The body is larger than {MAX_BODY} bytes.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return _answer(400, "The body is not UTF-8 form data.")
    topic = (fields.get("Topic") or [""])[0]
    message = (fields.get("MSG") or [""])[0]
    signature = (fields.get("HMAC") or [""])[0].strip().lower()
    if not topic or not message:
        return _answer(400, "Expected form fields Topic and MSG.")
    connection = QualtricsConnection.objects.first()
    if connection is None or not connection.shared_key_encrypted:
        return _answer(403, "Muster has no Qualtrics event subscription to check this against.")
    # Verify the raw MSG exactly as received, before parsing it, in constant time.
    if not signature or not hmac.compare_digest(sign(message, connection.shared_key.value), signature):
        logger.warning("Qualtrics webhook with a bad or missing HMAC refused (topic %s)", topic[:200])
        return _answer(403, "The HMAC does not match.")
    try:
        msg = orjson.loads(message)
    except orjson.JSONDecodeError:
        return _answer(400, "MSG is not JSON.")
    if not isinstance(msg, dict) or not isinstance(msg.get("ResponseID"), str):
        return _answer(400, "MSG has no ResponseID.")
    survey_id = msg.get("SurveyID") if isinstance(msg.get("SurveyID"), str) else topic.rsplit(".", 1)[-1]
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                connection=connection,
                topic=topic[:300],
                kind=_kind(topic)[:40],
                survey_id=str(survey_id)[:100],
                response_id=msg["ResponseID"][:100],
                message=msg,
            )
    except IntegrityError:
        # Qualtrics may deliver the same event twice; the first one counts.
        pass
    QualtricsConnection.objects.filter(pk=connection.pk).update(last_webhook_at=now())
    return _answer(200, "Recorded.")
