"""The HTTP API (`docqa serve`): a thin FastAPI shell over QA, the store and the indexer.

The model is loaded once at start-up. Concurrent /ask requests are coalesced into shared
reader batches (micro_batching); inference and indexing run in worker threads, so the event
loop never waits on them. Every rule of a request is QA's: a route checks the request with
QA before it queues it, and errors become HTTP statuses in `errors`. The request models
(`models.request_models`) state the same rules in the OpenAPI schema, with this app's bounds.

With a key (api.key or DOCQA_API_KEY), every route of the API needs it, checked before the
request's body is read (`_KeyedRoute`); the liveness and readiness checks, the page at / and
the API's description (/openapi.json, /docs) are served without it: they hold no data, and
Swagger UI at /docs cannot send a key when it loads the schema.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations as objects,
# and /ask's body is a class made for each app.

import asyncio
import dataclasses
import hmac
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, File, Path as PathParam, Query, Request, Security, UploadFile
from fastapi_offline import FastAPIOffline
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ingest.convert import SUPPORTED_SUFFIXES
from ingest.watch import watch_in_thread
from store.errors import SQLITE_MAX_INT, DocqaError

from pipeline.checks import QuestionError
from pipeline.config import Config
from pipeline.pages import DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH
from pipeline.qa import QA, AskOptions
from pipeline.ranking import Ranking
from pipeline.serve.errors import ApiError, from_docqa_error, install_error_handlers
from pipeline.serve.micro_batching import MicroBatcher
from pipeline.serve.page_images import HIGHLIGHT, PAGE_IMAGE, page_response
from pipeline.serve.models import (
    AskResponse,
    BatchResponse,
    DocumentDetail,
    DocumentList,
    ErrorResponse,
    Health,
    PassageModel,
    RequestModels,
    StatsModel,
    UploadResponse,
    request_models,
)
from pipeline.serve.uploads import remove_upload, store_and_index

logger = logging.getLogger(__name__)
_PAGE = Path(__file__).with_name("web") / "index.html"
_ERROR_STATUSES = {
    400: "Malformed JSON, or a multipart body that cannot be parsed.",
    401: "Missing or wrong API key.",
    404: "No document with this id.",
    413: "The file is larger than api.max_upload_mb.",
    415: f"The file's name does not end in {', '.join(SUPPORTED_SUFFIXES)}.",
    # (/ask and /ask/batch: their own 415, see _JSON_ONLY.)
    422: "A field breaks a rule: error.field names it, error.message says which and why.",
    500: "A fault of the server, logged under the response's request_id.",
    503: "The database cannot answer (no passages yet, unreadable, locked or full), or the reader is not loaded.",
}


def _errors(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for error statuses, all with the ErrorResponse body (500 always).

    `descriptions` ("e415": "...") replace the general description of a status for one route.
    """
    return {
        status: {"model": ErrorResponse, "description": descriptions.get(f"e{status}", _ERROR_STATUSES[status])}
        for status in (*statuses, 500)
    }


_JSON_ONLY = "The body is not sent as JSON: its Content-Type must be application/json."
_NO_FILE = "No indexed file matches the `files` patterns (error.field is files)."


# Declared in the schema (when a key is set) so that clients and Swagger UI know how to send
# the key; checking it is _require_key's, before the body is read.
_BEARER = HTTPBearer(auto_error=False, description="The API key as 'Authorization: Bearer KEY'.")
_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key as 'X-API-Key: KEY'.")


@dataclass
class Service:
    """What the routes share: the configuration, the QA and its one inference thread, and readiness."""

    config: Config
    qa: QA
    key: str | None
    inference: ThreadPoolExecutor
    batcher: MicroBatcher[str, Ranking]
    ready: bool = False
    load_error: str | None = None

    async def answer(self, questions: Sequence[str], options: AskOptions) -> list[Ranking]:
        """Rankings for checked questions: through the micro-batcher, or in one call of its own."""
        if not self.ready:
            raise ApiError(503, None, f"the reader is not ready: {self.load_error or 'still loading'}")
        if self.config.api.micro_batching:
            return list(await asyncio.gather(*(self.batcher.submit(options, q) for q in questions)))
        return await asyncio.get_running_loop().run_in_executor(self.inference, self.qa.run, list(questions), options)


def create_app(config: Config, qa: QA | None = None, watch: Sequence[str] = ()) -> FastAPI:
    """The API over `config`'s database; `qa` may be given (tests share a loaded model).

    `watch`: files and folders indexed at start-up and kept in sync while the app runs
    (ingest.watch, in a thread of its own), as `docqa index PATH... --watch` does.
    """
    qa = qa if qa is not None else QA(config)
    inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docqa-reader")
    batcher: MicroBatcher[str, Ranking] = MicroBatcher(
        lambda options, questions: qa.run(questions, options),
        max_wait=config.api.batch_wait_ms / 1000,
        max_size=config.api.max_batch_questions,
        executor=inference,
    )
    service = Service(config, qa, config.api.key or os.environ.get("DOCQA_API_KEY") or None, inference, batcher)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watcher = watch_in_thread(qa.store, watch, dataclasses.replace(config.ingest, workers=0), logging.getLogger("uvicorn.error")) if watch else None
        try:
            await asyncio.get_running_loop().run_in_executor(inference, qa.reader.warm_up)
            service.ready = True
        except DocqaError as exc:
            service.load_error = str(exc)
            logger.error("the reader could not be loaded: %s", exc)
        yield
        if watcher is not None:
            watcher.set()
        await batcher.close()
        inference.shutdown(wait=False, cancel_futures=True)

    # /docs and /redoc from Swagger UI and ReDoc assets installed with docqa, not from a CDN:
    # docqa runs on machines without network.
    app = FastAPIOffline(
        title="docqa",
        version="0.1.0",
        description="Question answering over indexed files.",
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,  # operation ids: ask, get_document, ...
    )
    app.state.service = service
    if config.api.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=config.api.cors_origins, allow_methods=["*"], allow_headers=["*"])

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Response:
        request.state.request_id = uuid.uuid4().hex[:16]
        response: Response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    install_error_handlers(app)
    models = request_models(qa, config.api)
    app.openapi = _exact_openapi(app, models)  # type: ignore[method-assign]
    keyed: dict[str, Any] = {}
    if service.key is not None:
        keyed = {"dependencies": [Security(_BEARER), Security(_KEY_HEADER)], "responses": {401: _errors(401)[401]}}
    app.include_router(_ask_routes(models), **keyed)
    app.include_router(_protected, **keyed)
    app.include_router(_open)
    return app


def _exact_openapi(app: FastAPI, models: RequestModels) -> Callable[[], dict[str, Any]]:
    """app.openapi, with the request bodies' schemas as pydantic writes them.

    FastAPI passes its document through its own OpenAPI model, whose number fields are
    floats: a bound of 9223372036854775807 (2**63 - 1, the largest id SQLite holds) would be
    published as 9.223372036854776e18, which is 2**63, a value the API refuses.
    """
    exact = models.json_schemas()

    def openapi() -> dict[str, Any]:
        schema = FastAPI.openapi(app)
        schema["components"]["schemas"].update(exact)
        return schema

    return openapi


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def _require_key(request: Request) -> None:
    key = _service(request).key
    if key is None:
        return
    given = request.headers.get("x-api-key") or ""
    authorization = request.headers.get("authorization") or ""
    if authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    if not hmac.compare_digest(given.encode(), key.encode()):
        raise ApiError(401, "authorization", "missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")


class _KeyedRoute(APIRoute):
    """A route that needs the API key, when one is set: checked before FastAPI reads the body,
    so a request without the key is a 401 whatever its body holds (never a 400 or 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            self.check_request(request)
            return await handler(request)

        return checked

    def check_request(self, request: Request) -> None:
        """What is checked before the body is read."""
        _require_key(request)


class _JsonRoute(_KeyedRoute):
    """A keyed route whose body is JSON: a body declared as another type (curl's default form
    encoding, text/plain) is a 415 naming the type to send, not a 422 about a dictionary.

    The rule is FastAPI's own (strict_content_type) for reading a body as JSON:
    application/json or a +json type; a body without a Content-Type is not read as JSON.
    """

    def check_request(self, request: Request) -> None:
        super().check_request(request)
        declared = request.headers.get("content-type", "")
        media = declared.split(";", 1)[0].strip().lower()
        if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
            got = f"got {declared!r}" if declared else "the request has no Content-Type"
            raise ApiError(415, "Content-Type", f"{request.url.path} reads a JSON body: send it with 'Content-Type: application/json' ({got})")


_protected = APIRouter(route_class=_KeyedRoute)
_open = APIRouter()
# A document id: SQLite's rowids are 1 to 2**63 - 1.
_FILE_ID = PathParam(ge=1, le=SQLITE_MAX_INT, description="A document id, from POST /documents or GET /documents.")


def _ask_routes(models: RequestModels) -> APIRouter:
    """/ask and /ask/batch, whose bodies are validated with this app's request models."""
    router = APIRouter(route_class=_JsonRoute)
    AskRequest, BatchRequest = models.ask, models.batch

    @router.post("/ask", response_model=AskResponse, responses=_errors(400, 404, 415, 422, 503, e404=_NO_FILE, e415=_JSON_ONLY))
    async def ask(body: AskRequest, service: Service = Depends(_service)) -> dict[str, Any]:  # type: ignore[valid-type]
        """Answers to one question, as `docqa ask --json` prints them."""
        qa = service.qa
        qa.check_question(body.question)
        filters = None if body.filters is None else body.filters.model_dump(mode="json")
        # Relative patterns are taken from the server's current folder, as `docqa ask --file` takes them.
        options = qa.options(top_k=body.top_k, paths=body.files, filters=filters, max_top_k=service.config.api.max_top_k, base=os.getcwd())
        await run_in_threadpool(qa.check_paths, options)
        started = time.perf_counter()
        [ranking] = await service.answer([body.question], options)
        return ranking.to_json(time.perf_counter() - started)

    @router.post("/ask/batch", response_model=BatchResponse, responses=_errors(400, 415, 422, 503, e415=_JSON_ONLY))
    async def ask_batch(body: BatchRequest, service: Service = Depends(_service)) -> dict[str, Any]:  # type: ignore[valid-type]
        """Answers to many questions, in order."""
        qa = service.qa
        try:
            qa.check_questions(body.questions, most=service.config.api.max_batch_request)
        except QuestionError as exc:
            raise from_docqa_error(exc, "questions") from None
        options = qa.options(top_k=body.top_k, max_top_k=service.config.api.max_top_k)
        started = time.perf_counter()
        rankings = await service.answer(body.questions, options)
        seconds = time.perf_counter() - started
        return {"results": [ranking.to_json(seconds) for ranking in rankings]}

    return router


@_protected.get("/documents", response_model=DocumentList, responses=_errors(422, 503))
async def list_documents(
    offset: int = Query(0, ge=0, le=SQLITE_MAX_INT), limit: int = Query(50, ge=1, le=500), service: Service = Depends(_service)
) -> dict[str, Any]:
    """Indexed (and failed) files, by path, a page at a time."""
    files, total = await run_in_threadpool(service.qa.store.list_files, offset, limit)
    return {"total": total, "offset": offset, "limit": limit, "documents": [dataclasses.asdict(f) for f in files]}


@_protected.get("/documents/{file_id}", response_model=DocumentDetail, responses=_errors(404, 422, 503))
async def get_document(file_id: int = _FILE_ID, service: Service = Depends(_service)) -> dict[str, Any]:
    store = service.qa.store
    record = await run_in_threadpool(store.get_file, file_id)
    if record is None:
        raise ApiError(404, "file_id", f"no document with id {file_id}")
    passages = await run_in_threadpool(store.file_passages, file_id)
    passage_list = [PassageModel(id=p.id, text=p.content or "", page=p.meta.get("page_number"), start=p.meta.get("split_idx_start")) for p in passages]
    return {**dataclasses.asdict(record), "passage_list": passage_list}


@_protected.delete("/documents/{file_id}", status_code=204, responses=_errors(404, 422, 503))
async def delete_document(file_id: int = _FILE_ID, service: Service = Depends(_service)) -> Response:
    """Forget a file and its passages; an uploaded file is deleted from the data folder too."""
    store = service.qa.store
    record = await run_in_threadpool(store.get_file, file_id)
    if record is None or not await run_in_threadpool(store.delete_file, file_id):
        raise ApiError(404, "file_id", f"no document with id {file_id}")
    remove_upload(record.path, service.config)
    return Response(status_code=204)


_PAGE_NUMBER = PathParam(ge=1, le=SQLITE_MAX_INT, description="A page of the document, from 1 (an answer's `page`).")


@_protected.get(
    "/documents/{file_id}/pages/{page}",
    response_class=Response,
    responses={
        200: PAGE_IMAGE,
        **_errors(
            404, 415, 422, 503,
            e404="No such document or page; or the highlight names a passage of another document, offsets outside it, or an answer on other pages.",
            e415="The document is not a PDF (a text file's passages are its text).",
        ),
    },
)
async def page_image(
    request: Request,
    file_id: int = _FILE_ID,
    page: int = _PAGE_NUMBER,
    width: int = Query(DEFAULT_WIDTH, ge=MIN_WIDTH, le=MAX_WIDTH, description="Width of the image in pixels (its height follows the page)."),
    highlight: str | None = HIGHLIGHT,
    service: Service = Depends(_service),
) -> Response:
    """A PDF page rendered as PNG, with an answer's words boxed: the answer where it stands."""
    return await page_response(service.qa.store, file_id, page, width, highlight, request.headers.get("if-none-match"))


_UPLOAD_RULES = (
    f"The file to index. Its name must end in {', '.join(SUPPORTED_SUFFIXES)} (otherwise 415); it must not be empty "
    "and must be a document docqa can read (otherwise 422, with the reason); at most api.max_upload_mb "
    "megabytes (otherwise 413)."
)
# The file part carries a name, whose extension decides how it is read (its Content-Type
# does not); schemathesis sends its generated files under the example's name.
_UPLOAD_ENCODING = {
    "headers": {"Content-Disposition": {"schema": {"type": "string", "example": 'form-data; name="file"; filename="notes.txt"'}}},
}


def _link(operation_id: str) -> dict[str, Any]:
    """An OpenAPI link from an upload's response to an operation on the new document."""
    return {"operationId": operation_id, "parameters": {"file_id": "$response.body#/id"}}


_UPLOADED_LINKS = {"GetDocument": _link("get_document"), "DeleteDocument": _link("delete_document")}


@_protected.post(
    "/documents",
    status_code=201,
    response_model=UploadResponse,
    responses={
        **_errors(400, 413, 415, 422, 503),
        200: {"model": UploadResponse, "description": "The content is indexed already: the document that holds it (duplicate: true); nothing was stored.", "links": _UPLOADED_LINKS},
        201: {"description": "Stored and indexed: the new document (duplicate: false).", "links": _UPLOADED_LINKS},
    },
    openapi_extra={"requestBody": {"content": {"multipart/form-data": {"encoding": {"file": _UPLOAD_ENCODING}}}}},
)
async def upload(
    response: Response,
    file: UploadFile = File(description=_UPLOAD_RULES, json_schema_extra={"minLength": 1}),
    service: Service = Depends(_service),
) -> dict[str, Any]:
    """Store an uploaded document (PDF, text, Word, HTML, EPUB, image) under the data folder and index it.

    201 with the new document; 200 with the existing one when its content is indexed already.
    """
    record, stored, duplicate = await store_and_index(file, service.qa.store, service.config)
    if duplicate:
        response.status_code = 200
    message = f"already indexed as document {record.id} ({record.path}): not stored again" if duplicate else None
    return {"id": record.id, "file": str(stored), "passages": record.passages, "duplicate": duplicate, "message": message}


@_protected.get("/stats", response_model=StatsModel, responses=_errors(503))
async def stats(service: Service = Depends(_service)) -> dict[str, Any]:
    s = await run_in_threadpool(service.qa.store.stats)
    return {"files": s.files, "failed": s.failed, "passages": s.passages, "pages": s.pages, "size_bytes": s.size_bytes}


@_open.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@_open.get("/readyz", response_model=Health, responses={503: {"model": Health}})
async def readyz(service: Service = Depends(_service)) -> Any:
    """Readiness: the model is loaded and the database answers."""
    if not service.ready:
        return JSONResponse({"status": f"not ready: {service.load_error or 'loading the model'}"}, status_code=503)
    try:
        await run_in_threadpool(service.qa.store.has_passages)
    except Exception as exc:
        return JSONResponse({"status": f"not ready: database error: {exc}"}, status_code=503)
    return {"status": "ready"}


@_open.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> str:
    # The page holds no data (it asks /ask), so it is served without the API key.
    return _PAGE.read_text(encoding="utf-8")
