"""REST API v1 (django-ninja): mounts each app's router. Every route names the capability it needs
through `muster.api.common.require`."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from muster.accounts.roles import capabilities_of
from muster.api.auth import BearerToken
from muster.api.common import ERRORS, current_user
from muster.api.schemas import Me
from muster.integrations.qualtrics.api import router as qualtrics_router
from muster.people.api import panels_router, properties_router
from muster.people.api import router as people_router
from muster.studies.api import router as studies_router
from muster.surveys.api import router as surveys_router

api = NinjaAPI(
    title="Muster API",
    version="1",
    description='Muster\'s REST API. Every object is addressed by its UUID `code`. Errors are JSON: `{"message": …}`.',
    auth=BearerToken(),
    urls_namespace="api",
)


def _message(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return api.create_response(request, {"message": message}, status=status)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _message(request, 401, "Send a valid API token as `Authorization: Bearer <token>`.")


@api.exception_handler(PermissionDenied)
def on_forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _message(request, 403, str(exc) or "Your role does not allow this.")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _message(request, 404, "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    response = _message(request, exc.status_code, str(exc))
    if isinstance(exc, Throttled) and exc.wait:
        response["Retry-After"] = str(exc.wait)
    return response


@api.exception_handler(ValidationError)
def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(part) for part in first.get("loc", [])[1:]) or "request"
    return _message(request, 422, f"{where}: {first.get('msg', 'invalid')}")


@api.get("/me", response={200: Me, **ERRORS}, summary="Who this token is", tags=["accounts"])
def me(request: HttpRequest) -> Me:
    user = current_user(request)
    return Me(
        code=user.code,
        email=user.email,
        name=user.name,
        role=user.role,
        capabilities=sorted(c.name.lower() for c in capabilities_of(user)),
    )


api.add_router("", people_router)
api.add_router("", properties_router)
api.add_router("", panels_router)
api.add_router("", studies_router)
api.add_router("", surveys_router)
api.add_router("/integrations/qualtrics", qualtrics_router)
