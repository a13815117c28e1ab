"""Qualtrics as a survey tool (`muster.surveys.tools.SurveyTool`), registered from apps.ready().

Every call goes through the live connection's service user and the client's error taxonomy; a
failure becomes a ToolError whose message says what to do, never a Qualtrics payload.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings

from muster.integrations.qualtrics import client, connect, exports
from muster.integrations.qualtrics.answers import read_response
from muster.integrations.qualtrics.importer import import_definition, readable_item
from muster.integrations.qualtrics.models import QualtricsConnection, current_connection
from muster.surveys.answers import ResponseData
from muster.surveys.questions import ImportedDefinition, Links, QuestionDef, SurveySummary
from muster.surveys.tools import ToolError

NOT_CONNECTED = "Connect Qualtrics first: Settings → Connected Apps."
# How long latest_responses waits for an export (REFERENCE §7.1).
EXPORT_TIMEOUT = 120.0


def return_url(participant_field: str) -> str:
    """Where every end of survey must send the participant (DESIGN §5.4)."""
    base = settings.MUSTER_PUBLIC_URL.rstrip("/")
    return f"{base}/q/return/?rid=${{e://Field/ResponseID}}&pid=${{e://Field/{participant_field}}}"


def tool_error(e: client.QualtricsError) -> ToolError:
    """A client failure in words for the person who asked."""
    service_user = settings.MUSTER_QUALTRICS_SERVICE_USER
    if isinstance(e, client.QualtricsAuthError):
        return ToolError(
            f"Qualtrics refused Muster's service user ({e.message}). Share the survey with “{service_user}” "
            "(Collaborate, every permission), or reconnect Qualtrics: Settings → Connected Apps."
        )
    if isinstance(e, client.QualtricsNotFound):
        return ToolError(
            f"Qualtrics can't find it ({e.message}): the survey may have been deleted or is no longer shared with "
            f"“{service_user}”."
        )
    if isinstance(e, client.QualtricsRateLimited):
        return ToolError("Qualtrics is busy (too many requests); try again in a minute.", transient=True)
    if isinstance(e, client.QualtricsUnavailable | client.QualtricsNotReady):
        return ToolError(f"Qualtrics did not answer ({e.message}); try again in a few minutes.", transient=True)
    if isinstance(e, client.HostNotAllowed):
        return ToolError(f"{e.message} Ask your administrator to allow that host.")
    if isinstance(e, client.UnexpectedPayload):
        return ToolError(f"Qualtrics answered with something Muster doesn't understand: {e.message}")
    return ToolError(f"Qualtrics refused: {e}")


class QualtricsTool:
    name = "qualtrics"
    label = "Qualtrics"

    def unavailable(self) -> str:
        connection = current_connection()
        if connection is None:
            return NOT_CONNECTED
        if connection.is_broken:
            return (
                f"The Qualtrics connection is broken: {connection.status_reason} Repair it: Settings → Connected Apps."
            )
        return ""

    @contextmanager
    def _account(self) -> Iterator[tuple[QualtricsConnection, client.Account]]:
        why = self.unavailable()
        connection = current_connection()
        if why or connection is None:
            raise ToolError(why or NOT_CONNECTED)
        try:
            with connect.connection_account(connection) as account:
                yield connection, account
        except client.QualtricsError as e:
            raise tool_error(e) from None

    def surveys(self) -> list[SurveySummary]:
        with self._account() as (_, account):
            found = client.list_surveys(account)
        return [SurveySummary(s.id, s.name, s.is_active, client.moment(s.last_modified)) for s in found]

    def definition(self, survey_id: str, participant_field: str) -> ImportedDefinition:
        with self._account() as (_, account):
            fetched = client.get_survey_definition(account, survey_id)
            readable = self._readable(account, survey_id)
        return import_definition(
            fetched.model_dump(by_alias=True, exclude_unset=True),
            participant_field,
            return_url(participant_field),
            readable=readable_item(readable, settings.MUSTER_QUALTRICS_SERVICE_USER),
        )

    def _readable(self, account: client.Account, survey_id: str) -> str | None:
        """None when the service user may read responses, else why not.

        The response schema needs the same permission as reading a response and reads none, so it
        proves access cheaply even on a survey without responses. A permission refusal is a
        finding; any other failure means Muster could not tell, which the report says too.
        """
        try:
            client.get_response_schema(account, survey_id)
        except client.QualtricsAuthError as e:
            return e.message
        except client.QualtricsError as e:
            return f"Muster could not check just now: {e.message}; import again to check again"
        return None

    def latest_responses(
        self, survey_id: str, questions: Sequence[QuestionDef], participant_field: str, limit: int
    ) -> list[ResponseData]:
        """The newest `limit` responses by recorded date, newest first.

        An export has no "newest first" order, so the whole JSON export is streamed (ijson) and
        only the newest `limit` are kept: memory stays flat however many responses there are.
        """
        if limit <= 0:
            return []
        with self._account() as (_, account), exports.temp_dir() as folder:
            try:
                path = exports.run_export(account, survey_id, {"format": "json"}, folder, EXPORT_TIMEOUT).path
            except exports.ExportFailed as e:
                raise ToolError(f"Qualtrics could not export the responses ({e.message}); try again.", True) from None
            except exports.NotEnoughSpace as e:
                raise ToolError(f"Muster's disk is nearly full: {e}", True) from None
            kept: list[tuple[float, int, ResponseData]] = []
            try:
                for seq, element in enumerate(exports.elements(path)):
                    response = read_response(
                        questions,
                        element.get("values") or {},
                        element.get("labels") or {},
                        participant_field,
                        str(element.get("responseId") or ""),
                        raw=element,
                    )
                    moment = response.recorded_at or response.last_modified_at
                    entry = (moment.timestamp() if moment else float("-inf"), seq, response)
                    if len(kept) < limit:
                        heapq.heappush(kept, entry)
                    else:
                        heapq.heappushpop(kept, entry)
            except exports.UNREADABLE as e:
                raise ToolError(f"Qualtrics sent an export Muster could not read ({e}); try again.", True) from None
        return [response for _, _, response in sorted(kept, key=lambda e: (e[0], e[1]), reverse=True)]

    def links(self, survey_id: str, base_url: str) -> Links:
        """Per REFERENCE §10, on the host of the survey's BrandBaseURL (else the connection's)."""
        if not base_url:
            connection = current_connection()
            base_url = connection.base_url if connection is not None else ""
        parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
        origin = f"{parts.scheme}://{parts.netloc}"
        return Links(
            take=f"{origin}/jfe/form/{survey_id}",
            edit=f"{origin}/survey-builder/{survey_id}/edit",
            data=f"{origin}/responses/#/surveys/{survey_id}",
            preview=f"{origin}/jfe/preview/{survey_id}?Q_CHL=preview&Q_SurveyVersionID=current",
        )
