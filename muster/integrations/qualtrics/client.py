"""Qualtrics v3 REST API: typed functions for every call Muster makes.

Nothing outside this folder knows a Qualtrics JSON shape. Every function takes an `Account`
(base URL + token + call budget) and returns pydantic models or plain values; failures raise the
small taxonomy below, carrying Qualtrics' own message and error code.

A token is only ever sent to an allowed host (MUSTER_QUALTRICS_ALLOWED_HOSTS): the base URL,
hosts named in `meta.notice` and `nextPage` URLs are all checked.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson
import stamina
from django.conf import settings
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from muster.crypto import Secret
from muster.integrations.qualtrics.scrub import scrub

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MAX_RETRY_AFTER = 60.0
NOTICE_HOST = re.compile(r"use this host instead:\s*([A-Za-z0-9.\-]+(?::\d+)?)")


# ---------------------------------------------------------------- errors


class QualtricsError(Exception):
    """A failed call. `message` and `code` are Qualtrics' own words when it sent any."""

    permanent = True

    def __init__(self, message: str, status: int | None = None, code: str = "", url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.url = url

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.append(f"({self.code})")
        if self.status:
            parts.append(f"[HTTP {self.status}]")
        return " ".join(parts)

    @classmethod
    def from_response(cls, response: httpx.Response) -> QualtricsError:
        message, code = error_details(response)
        # Never repeat the token this request sent, should Qualtrics echo it.
        message = scrub(message, response.request.headers.get("X-API-TOKEN"), held=False)
        status = response.status_code
        url = redact_url(str(response.request.url))
        if status in (401, 403):
            return QualtricsAuthError(message, status, code, url)
        if status == 404:
            return QualtricsNotFound(message, status, code, url)
        if status == 429:
            return QualtricsRateLimited(message, status, code, url, retry_after=retry_after(response))
        if status >= 500:
            return QualtricsUnavailable(message, status, code, url)
        return QualtricsError(message, status, code, url)


class QualtricsAuthError(QualtricsError):
    """401/403: the token is wrong, revoked, or lacks the permission. Permanent."""


class QualtricsNotFound(QualtricsError):
    """404. Permanent for a survey; a response may appear a little later (callers decide)."""


class QualtricsRateLimited(QualtricsError):
    permanent = False

    def __init__(
        self, message: str, status: int | None = 429, code: str = "", url: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, status, code, url)
        self.retry_after = retry_after


class QualtricsUnavailable(QualtricsError):
    """5xx, timeouts, refused connections. Transient: Qualtrics asks clients to retry 500s."""

    permanent = False


class QualtricsNotReady(QualtricsError):
    """HTTP 202 to a GET: what was asked for exists but is not available yet. A single response
    fetched right after its webhook answers so (REFERENCE §13). Transient, but for minutes, not
    seconds: the client does not wait for it; callers try again later."""

    permanent = False


class HostNotAllowed(QualtricsError):
    """A URL outside MUSTER_QUALTRICS_ALLOWED_HOSTS: no token is sent there."""


class UnexpectedPayload(QualtricsError):
    """Qualtrics answered 2xx with something Muster's models do not accept."""


def error_details(response: httpx.Response) -> tuple[str, str]:
    """Reads both error envelopes Qualtrics has used (REFERENCE §2)."""
    try:
        meta = response.json().get("meta") or {}
    except (ValueError, AttributeError):
        meta = {}
    error = meta.get("error") if isinstance(meta, dict) else None
    if isinstance(error, dict) and error.get("errorMessage"):
        return str(error["errorMessage"]), str(error.get("errorCode") or "")
    # The older envelope: {"meta": {"status": "Error", "errorMessage": ..., "internalErrorCode": ...}}
    if isinstance(meta, dict) and meta.get("errorMessage"):
        return str(meta["errorMessage"]), str(meta.get("internalErrorCode") or "")
    return f"Qualtrics answered HTTP {response.status_code} {response.reason_phrase}".strip(), ""


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def is_retryable(exc: Exception) -> bool | float:
    """stamina's hook: retry transient failures, waiting at least what Retry-After asks."""
    if isinstance(exc, QualtricsRateLimited):
        if exc.retry_after is not None and exc.retry_after <= MAX_RETRY_AFTER:
            return exc.retry_after
        return exc.retry_after is None
    return isinstance(exc, QualtricsUnavailable)


# ---------------------------------------------------------------- hosts


def moment(value: Any) -> datetime | None:
    """A Qualtrics time as an aware datetime, or None: ISO 8601 (`2021-06-24T01:50:13.957Z`), the
    space-separated form webhooks and definitions carry (`2019-06-26 13:28:11`), UTC when no offset."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        found = parse_datetime(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    if found is None:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def host_allowed(url: str, patterns: list[str] | None = None) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        return False
    netloc = f"{host}:{parts.port}" if parts.port else host
    for pattern in patterns if patterns is not None else settings.MUSTER_QUALTRICS_ALLOWED_HOSTS:
        if pattern.startswith("*."):
            # A wildcard covers subdomains over https only, never the bare domain's lookalikes.
            if parts.scheme == "https" and host.endswith(pattern[1:]) and not parts.port:
                return True
        elif pattern in (netloc, host):
            # An exact entry is the operator's explicit choice (e.g. the local sandbox over http).
            return True
    return False


def base_url_for(datacenter_or_url: str) -> str:
    """`iad1` -> https://iad1.qualtrics.com; an account URL keeps its scheme and host only."""
    value = datacenter_or_url.strip()
    if re.fullmatch(r"[a-z]{2,4}\d{0,2}", value.lower()):
        return f"https://{value.lower()}.qualtrics.com"
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if not parts.hostname:
        raise HostNotAllowed(f"{datacenter_or_url!r} is neither a datacenter id nor a URL.")
    return f"{parts.scheme}://{parts.netloc}".lower()


def redact_url(url: str) -> str:
    return re.sub(r"(token|password|key)=[^&]*", r"\1=***", url, flags=re.IGNORECASE)


# ---------------------------------------------------------------- transport


@dataclass
class Account:
    """Where and as whom calls go. `budget` is called before each request (see budget.py).

    An account holds one HTTP client, opened on its first call and reused by every later one
    (one connection pool, so consecutive calls skip the TCP and TLS handshakes). Close it when
    done: `with account:` or `account.close()`.
    """

    base_url: str
    token: Secret
    budget: Callable[[], None] | None = None
    # Called when Qualtrics says the token itself is invalid (401), so the connection can be
    # marked broken from whatever call noticed it first.
    on_invalid_token: Callable[[QualtricsError], None] | None = None
    notices: list[str] = field(default_factory=list)
    transport: httpx.BaseTransport | None = None
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    @property
    def http(self) -> httpx.Client:
        if self._client is None or self._client.is_closed:
            self._client = _http(self)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Account:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _http(account: Account) -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, transport=account.transport, follow_redirects=False)


@sensitive_variables("headers")
def _request_once(account: Account, method: str, url: str, json: Any = None) -> httpx.Response:
    if not host_allowed(url):
        raise HostNotAllowed(f"{urlsplit(url).netloc} is not in MUSTER_QUALTRICS_ALLOWED_HOSTS; no token was sent.")
    if account.budget is not None:
        account.budget()
    headers = {"X-API-TOKEN": account.token.value, "Accept": "application/json"}
    try:
        response = account.http.request(method, url, headers=headers, json=json)
    except httpx.TimeoutException as e:
        raise QualtricsUnavailable(f"Qualtrics did not answer in time ({type(e).__name__}).", url=url) from None
    except httpx.TransportError as e:
        raise QualtricsUnavailable(f"Could not reach Qualtrics ({type(e).__name__}).", url=url) from None
    if response.status_code >= 400:
        error = QualtricsError.from_response(response)
        if response.status_code == 401 and account.on_invalid_token is not None:
            account.on_invalid_token(error)
        raise error
    return response


def request(account: Account, method: str, path_or_url: str, json: Any = None) -> dict[str, Any]:
    """One API call with retries on transient failures; returns the decoded JSON body."""
    url = path_or_url if "://" in path_or_url else f"{account.base_url}/API/v3/{path_or_url.lstrip('/')}"
    response: httpx.Response | None = None
    for attempt in stamina.retry_context(on=is_retryable, attempts=4, wait_initial=0.5, wait_max=10.0, timeout=90):
        with attempt:
            if attempt.num > 1:
                logger.info("Qualtrics retry %s: %s %s", attempt.num, method, redact_url(url))
            response = _request_once(account, method, url, json)
    assert response is not None
    if response.status_code == 202 and method == "GET":
        # A GET answered 202 carries no resource, only "not yet available" (REFERENCE §13).
        raise QualtricsNotReady(_not_ready_message(response), 202, url=redact_url(url))
    if not response.content:
        return {}
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise UnexpectedPayload("Qualtrics answered with something that is not JSON.", response.status_code) from None
    if not isinstance(body, dict):
        raise UnexpectedPayload("Qualtrics answered with JSON that is not an object.", response.status_code)
    _note_notice(account, body)
    return body


def _not_ready_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = (body.get("result") or {}).get("message") or (body.get("meta") or {}).get("notice")
    except (ValueError, AttributeError):
        message = None
    if not message:
        return "Qualtrics says this is not available yet; try again later."
    return scrub(str(message), response.request.headers.get("X-API-TOKEN"), held=False)


def _note_notice(account: Account, body: dict[str, Any]) -> None:
    meta = body.get("meta")
    notice = meta.get("notice") if isinstance(meta, dict) else None
    if isinstance(notice, str) and notice:
        account.notices.append(notice)


def notice_host(account: Account) -> str | None:
    """The host a 'Request proxied' notice asks us to use, if any was seen."""
    for notice in reversed(account.notices):
        match = NOTICE_HOST.search(notice)
        if match:
            return match.group(1).lower()
    return None


Model = TypeVar("Model", bound=BaseModel)


def parse(model: type[Model], data: Any, what: str) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UnexpectedPayload(f"Unexpected {what} from Qualtrics: {where}: {first['msg']}") from None


def result(body: dict[str, Any]) -> Any:
    return body.get("result")


# ---------------------------------------------------------------- models


class Loose(BaseModel):
    # Qualtrics adds fields over time: unknown ones are kept, never an error.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class WhoAmI(Loose):
    brand_id: str = Field(alias="brandId")
    user_id: str = Field(alias="userId")
    user_name: str = Field("", alias="userName")
    account_type: str = Field("", alias="accountType")
    first_name: str | None = Field(None, alias="firstName")
    last_name: str | None = Field(None, alias="lastName")
    email: str | None = None
    datacenter: str | None = None


class SurveySummary(Loose):
    id: str
    name: str
    owner_id: str | None = Field(None, alias="ownerId")
    last_modified: str | None = Field(None, alias="lastModified")
    creation_date: str | None = Field(None, alias="creationDate")
    is_active: bool = Field(False, alias="isActive")


class Page(Loose):
    elements: list[dict[str, Any]]
    next_page: str | None = Field(None, alias="nextPage")


class Created(Loose):
    id: str


class ApiTokenResult(Loose):
    api_token: str = Field(alias="apiToken")


class QualtricsUser(Loose):
    id: str
    username: str = Field("", alias="username")
    first_name: str | None = Field(None, alias="firstName")
    last_name: str | None = Field(None, alias="lastName")
    user_type: str | None = Field(None, alias="userType")
    account_status: str | None = Field(None, alias="accountStatus")


class EventSubscription(Loose):
    id: str
    topics: str | None = None
    publication_url: str | None = Field(None, alias="publicationUrl")
    scope: str | None = None
    encrypted: bool | None = None
    successful_calls: int | None = Field(None, alias="successfulCalls")


class SurveyDefinition(Loose):
    survey_id: str = Field(alias="SurveyID")
    survey_name: str = Field("", alias="SurveyName")
    survey_status: str | None = Field(None, alias="SurveyStatus")
    last_modified: str | None = Field(None, alias="LastModified")
    brand_base_url: str | None = Field(None, alias="BrandBaseURL")
    questions: dict[str, dict[str, Any]] = Field(default_factory=dict, alias="Questions")
    blocks: dict[str, dict[str, Any]] | list[dict[str, Any]] = Field(default_factory=dict, alias="Blocks")
    survey_flow: dict[str, Any] = Field(default_factory=dict, alias="SurveyFlow")
    survey_options: dict[str, Any] = Field(default_factory=dict, alias="SurveyOptions")


class SingleResponse(Loose):
    response_id: str = Field(alias="responseId")
    values: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, Any] = Field(default_factory=dict)
    displayed_fields: list[str] = Field(default_factory=list, alias="displayedFields")
    displayed_values: dict[str, Any] = Field(default_factory=dict, alias="displayedValues")


class ExportProgress(Loose):
    progress_id: str | None = Field(None, alias="progressId")
    percent_complete: float = Field(0.0, alias="percentComplete")
    status: str
    file_id: str | None = Field(None, alias="fileId")
    continuation_token: str | None = Field(None, alias="continuationToken")


# ---------------------------------------------------------------- calls


def whoami(account: Account) -> WhoAmI:
    # Reference: https://api.qualtrics.com/ (Who Am I) — GET /whoami; REFERENCE §1
    return parse(WhoAmI, result(request(account, "GET", "whoami")), "whoami")


def _pages(account: Account, first: str) -> Iterator[dict[str, Any]]:
    """Follows `nextPage` as an opaque URL, but only on the host the first page came from."""
    url: str | None = first
    home = urlsplit(f"{account.base_url}/").netloc
    while url:
        page = parse(Page, result(request(account, "GET", url)), "page")
        yield from page.elements
        url = page.next_page
        if url and urlsplit(url).netloc.lower() != home.lower():
            raise HostNotAllowed(f"nextPage points at {urlsplit(url).netloc}, not {home}; stopped there.")


def list_surveys(account: Account) -> list[SurveySummary]:
    # Reference: GET /surveys — owned and shared-with-me surveys, 100 a page; REFERENCE §4
    return [parse(SurveySummary, element, "survey") for element in _pages(account, "surveys")]


def get_survey_definition(account: Account, survey_id: str) -> SurveyDefinition:
    # Reference: GET /survey-definitions/{surveyId}; REFERENCE §5
    return parse(SurveyDefinition, result(request(account, "GET", f"survey-definitions/{survey_id}")), "definition")


def get_response(account: Account, survey_id: str, response_id: str) -> SingleResponse:
    # Reference: GET /surveys/{surveyId}/responses/{responseId}; REFERENCE §7.2. Right after its
    # event it may answer 202 "not yet available" (QualtricsNotReady) or 404: both transient (§13).
    body = request(account, "GET", f"surveys/{survey_id}/responses/{response_id}")
    return parse(SingleResponse, result(body), "response")


def get_response_schema(account: Account, survey_id: str) -> dict[str, Any]:
    # Reference: GET /surveys/{surveyId}/response-schema — the JSON schema of the survey's
    # responses; it needs the permission to read them, and reads none (REFERENCE §13)
    found = result(request(account, "GET", f"surveys/{survey_id}/response-schema"))
    return found if isinstance(found, dict) else {}


def list_users(account: Account) -> list[QualtricsUser]:
    # Reference: GET /users (brand administrators only); REFERENCE §3
    return [parse(QualtricsUser, element, "user") for element in _pages(account, "users")]


def create_user(
    account: Account, *, username: str, password: Secret, first_name: str, last_name: str, user_type: str, email: str
) -> str:
    # Reference: POST /users (brand administrators only); REFERENCE §3
    body = {
        "username": username,
        "password": password.value,
        "firstName": first_name,
        "lastName": last_name,
        "userType": user_type,
        "email": email,
        "language": "en",
    }
    return parse(Created, result(request(account, "POST", "users", json=body)), "new user").id


def update_user(account: Account, user_id: str, changes: dict[str, Any]) -> None:
    # Reference: PUT /users/{userId}; REFERENCE §3
    request(account, "PUT", f"users/{user_id}", json=changes)


def delete_user(account: Account, user_id: str) -> None:
    # Reference: DELETE /users/{userId}; REFERENCE §3
    request(account, "DELETE", f"users/{user_id}")


def create_api_token(account: Account, user_id: str) -> Secret:
    # Reference: POST /users/{userId}/apitoken — a new token invalidates the user's old one; REFERENCE §3
    body = request(account, "POST", f"users/{user_id}/apitoken")
    return Secret(parse(ApiTokenResult, result(body), "API token").api_token)


def create_subscription(account: Account, *, topics: str, publication_url: str, shared_key: Secret) -> str:
    # Reference: POST /eventsubscriptions (brand administrators only); REFERENCE §8
    body = {"topics": topics, "publicationUrl": publication_url, "encrypt": False, "sharedKey": shared_key.value}
    return parse(Created, result(request(account, "POST", "eventsubscriptions", json=body)), "subscription").id


def list_subscriptions(account: Account) -> list[EventSubscription]:
    # Reference: GET /eventsubscriptions — every subscription of the brand, {elements, nextPage}
    # (brand administrators only); REFERENCE §8
    return [parse(EventSubscription, e, "subscription") for e in _pages(account, "eventsubscriptions")]


def get_subscription(account: Account, subscription_id: str) -> EventSubscription:
    # Reference: GET /eventsubscriptions/{id}; REFERENCE §8
    body = request(account, "GET", f"eventsubscriptions/{subscription_id}")
    return parse(EventSubscription, result(body), "subscription")


def delete_subscription(account: Account, subscription_id: str) -> None:
    # Reference: DELETE /eventsubscriptions/{id} — answers meta only; REFERENCE §8
    request(account, "DELETE", f"eventsubscriptions/{subscription_id}")


def start_export(account: Account, survey_id: str, options: dict[str, Any]) -> ExportProgress:
    # Reference: POST /surveys/{surveyId}/export-responses; REFERENCE §7.1
    body = request(account, "POST", f"surveys/{survey_id}/export-responses", json=options)
    return parse(ExportProgress, result(body), "export progress")


def export_progress(account: Account, survey_id: str, progress_id: str) -> ExportProgress:
    # Reference: GET /surveys/{surveyId}/export-responses/{progressId}; REFERENCE §7.1
    body = request(account, "GET", f"surveys/{survey_id}/export-responses/{progress_id}")
    return parse(ExportProgress, result(body), "export progress")


@sensitive_variables("account")
def download_export(account: Account, survey_id: str, file_id: str, directory: Path) -> Path:
    """Streams the export zip to a temp file in `directory` (memory stays flat); returns its path."""
    # Reference: GET /surveys/{surveyId}/export-responses/{fileId}/file — a zip; REFERENCE §7.1
    url = f"{account.base_url}/API/v3/surveys/{survey_id}/export-responses/{file_id}/file"
    if not host_allowed(url):
        raise HostNotAllowed(f"{urlsplit(url).netloc} is not in MUSTER_QUALTRICS_ALLOWED_HOSTS; no token was sent.")
    if account.budget is not None:
        account.budget()
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix="export-", suffix=".zip")
    path = Path(name)
    try:
        with (
            open(fd, "wb") as f,
            account.http.stream("GET", url, headers={"X-API-TOKEN": account.token.value}) as r,
        ):
            if r.status_code >= 400:
                r.read()
                raise QualtricsError.from_response(r)
            for chunk in r.iter_bytes(64 * 1024):
                f.write(chunk)
    except httpx.TransportError as e:
        path.unlink(missing_ok=True)
        raise QualtricsUnavailable(f"The export download failed ({type(e).__name__}).", url=url) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
