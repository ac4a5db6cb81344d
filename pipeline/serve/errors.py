"""Errors of the HTTP API: one JSON shape, and the HTTP status of each docqa error class.

Every error is {"error": {"field", "message"}, "request_id"}; 4xx name the field and the
problem, 5xx are logged with the request id. The core's messages are passed on as they are.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from store.errors import DocqaError, OutOfRangeError, StoreError

from pipeline.checks import FilterError, QuestionError
from pipeline.qa import EmptyIndexError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, field: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def from_docqa_error(exc: DocqaError, question_field: str = "question") -> ApiError:
    """The HTTP form of a core error: bad input is 422 naming its field; a database that cannot
    answer (empty, locked, unreadable) or a reader that is not loaded is 503.

    `question_field` is how the request names its question(s): "question", or "questions"
    for /ask/batch, where a rule broken by one question names it as questions.<i>.
    """
    if isinstance(exc, QuestionError):
        field = question_field if exc.index is None or question_field == "question" else f"{question_field}.{exc.index}"
        return ApiError(422, field, str(exc))
    if isinstance(exc, OutOfRangeError):
        return ApiError(422, exc.name, str(exc))
    if isinstance(exc, FilterError):
        return ApiError(422, "filters", str(exc))
    if isinstance(exc, (EmptyIndexError, StoreError)):
        return ApiError(503, None, str(exc))
    return ApiError(500, None, str(exc))


def error_response(request: Request, status: int, field: str | None, message: str) -> JSONResponse:
    request_id: str = getattr(request.state, "request_id", "")
    body: dict[str, Any] = {"error": {"field": field, "message": message}, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers={"X-Request-ID": request_id})


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
        return error_response(request, 422, ".".join(location) or "body", first["msg"])

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, None, str(exc.detail))

    @app.exception_handler(Exception)
    async def on_fault(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request %s failed", getattr(request.state, "request_id", "?"))
        return error_response(request, 500, None, "internal server error; the server log has the details under this request_id")
