"""Errors of the HTTP API: one JSON shape, and the HTTP status of each docqa error class.

Every error is {"error": {"field", "message"}, "request_id"}; 4xx name the field and the
problem, 5xx are logged with the request id. The core's messages are passed on as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from store.errors import DocqaError, OutOfRangeError, StoreError

from pipeline.checks import FilterError, NoMatchingFileError, QuestionError
from pipeline.pages import PageError
from pipeline.qa import EmptyIndexError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, field: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def from_docqa_error(exc: DocqaError, question_field: str = "question") -> ApiError:
    """The HTTP form of a core error: bad input is 422 naming its field (`files` patterns that
    match no indexed file are 404: nothing to search); a database that cannot
    answer (empty, locked, unreadable) or a reader that is not loaded is 503.

    `question_field` is how the request names its question(s): "question", or "questions"
    for /ask/batch, where a rule broken by one question names it as questions.<i>.
    """
    if isinstance(exc, QuestionError):
        field = question_field if exc.index is None or question_field == "question" else f"{question_field}.{exc.index}"
        return ApiError(422, field, str(exc))
    if isinstance(exc, OutOfRangeError):
        return ApiError(422, exc.name, str(exc))
    if isinstance(exc, PageError):
        return ApiError(exc.status, exc.field, str(exc))
    if isinstance(exc, NoMatchingFileError):
        # A well-formed request naming files that are not there (no schema can know): not found.
        return ApiError(404, "files", str(exc))
    if isinstance(exc, FilterError):
        return ApiError(422, "filters", str(exc))
    if isinstance(exc, (EmptyIndexError, StoreError)):
        return ApiError(503, None, str(exc))
    return ApiError(500, None, str(exc))


def error_response(
    request: Request, status: int, field: str | None, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    request_id: str = getattr(request.state, "request_id", "")
    body: dict[str, Any] = {"error": {"field": field, "message": message}, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers={**(headers or {}), "X-Request-ID": request_id})


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """The methods some route serves at the request's path, for a 405's Allow header.

    Starlette names only those of the first route whose path matches, and /documents (GET,
    POST) and /documents/{id} (GET, DELETE) are two routes each; so each method is tried
    against every route. Mounts (static files) answer any method and decide for themselves.
    """
    routes = [route for route in request.app.routes if not isinstance(route, Mount)]
    allowed = [m for m in _METHODS if any(route.matches({**request.scope, "method": m})[0] == Match.FULL for route in routes)]
    return ", ".join(allowed)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.field, exc.message)

    @app.exception_handler(DocqaError)
    async def on_docqa_error(request: Request, exc: DocqaError) -> JSONResponse:
        error = from_docqa_error(exc)
        return error_response(request, error.status, error.field, error.message)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        if first.get("type") == "json_invalid":
            return error_response(request, 400, "body", f"malformed JSON: {first.get('ctx', {}).get('error', first['msg'])}")
        location = [str(part) for part in first["loc"] if part not in ("body", "query", "path")]
        if location[:1] == ["filters"] and len(location) > 1:
            # Filters are one field: where inside them the rule broke is part of the message
            # (its shape, keys and indices; not pydantic's names of a value's alternatives).
            where = ".".join(part for part in location[1:] if part.replace("_", "").isalnum())
            return error_response(request, 422, "filters", f"{where}: {first['msg']}")
        return error_response(request, 422, ".".join(location) or "body", first["msg"])

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})  # e.g. WWW-Authenticate; kept as the exception set them
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return error_response(request, exc.status_code, None, str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def on_fault(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request %s failed", getattr(request.state, "request_id", "?"))
        return error_response(request, 500, None, "internal server error; the server log has the details under this request_id")
