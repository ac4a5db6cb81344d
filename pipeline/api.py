"""The HTTP API (`docqa serve`): a thin FastAPI shell over QA, the store and the indexer.

The model is loaded once at start-up. Concurrent /ask requests are coalesced into shared
reader batches (pipeline.batcher); inference and indexing run in worker threads, so the
event loop never waits on them. Errors are JSON: {"error": {"field", "message"},
"request_id"}; 4xx name the field and the problem, 5xx are logged with the request id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.convert import SUPPORTED_SUFFIXES
from store.errors import DocqaError

from pipeline.api_models import (
    AskRequest,
    AskResponse,
    BatchRequest,
    BatchResponse,
    DocumentDetail,
    DocumentList,
    ErrorResponse,
    Health,
    PassageModel,
    StatsModel,
    UploadResponse,
)
from pipeline.batcher import MicroBatcher
from pipeline.cli_output import ranking_json
from pipeline.config import Config
from pipeline.qa import QA
from pipeline.ranking import Ranking

logger = logging.getLogger(__name__)
_PAGE = Path(__file__).with_name("web") / "index.html"
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 415, 422, 500)}


class ApiError(Exception):
    def __init__(self, status: int, field: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def create_app(config: Config, qa: QA | None = None) -> FastAPI:
    """The API over `config`'s database; `qa` may be given (tests share a loaded model)."""
    qa = qa if qa is not None else QA(config)
    api = config.api
    key = api.key or os.environ.get("DOCQA_API_KEY") or None
    inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docqa-reader")
    state: dict[str, Any] = {"ready": False, "error": None}

    def run_questions(group: Hashable, questions: list[str]) -> list[Ranking]:
        # The group key holds the options the questions share: (top_k, filters as JSON, file globs).
        top_k, filters, files = cast(tuple[int, str, tuple[str, ...]], group)
        return qa.ask_batch(questions, top_k=top_k, filters=json.loads(filters), paths=list(files) or None)

    batcher: MicroBatcher[str, Ranking] = MicroBatcher(
        run_questions, max_wait=api.batch_wait_ms / 1000, max_size=api.max_batch_questions, executor=inference
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await asyncio.get_running_loop().run_in_executor(inference, qa.reader.warm_up)
            state["ready"] = True
        except DocqaError as exc:
            state["error"] = str(exc)
            logger.error("the reader could not be loaded: %s", exc)
        yield
        await batcher.close()
        inference.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="docqa", version="0.1.0", description="Question answering over indexed files.", lifespan=lifespan)
    if api.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins, allow_methods=["*"], allow_headers=["*"])

    @app.middleware("http")
    async def request_id(request: Request, call_next: Any) -> Response:
        request.state.request_id = uuid.uuid4().hex[:16]
        response: Response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    def error(request: Request, status: int, field: str | None, message: str) -> JSONResponse:
        request_id: str = getattr(request.state, "request_id", "")
        body: dict[str, Any] = {"error": {"field": field, "message": message}, "request_id": request_id}
        return JSONResponse(body, status_code=status, headers={"X-Request-ID": request_id})

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error(request, exc.status, exc.field, exc.message)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        if first.get("type") == "json_invalid":
            return error(request, 400, "body", f"malformed JSON: {first.get('ctx', {}).get('error', first['msg'])}")
        location = [str(part) for part in first["loc"] if part not in ("body", "query", "path")]
        return error(request, 422, ".".join(location) or "body", first["msg"])

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(request, exc.status_code, None, str(exc.detail))

    @app.exception_handler(Exception)
    async def on_fault(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("request %s failed", getattr(request.state, "request_id", "?"))
        return error(request, 500, None, "internal server error; the server log has the details under this request_id")

    async def require_key(request: Request) -> None:
        if key is None:
            return
        given = request.headers.get("x-api-key") or ""
        authorization = request.headers.get("authorization") or ""
        if authorization.lower().startswith("bearer "):
            given = authorization[7:].strip()
        if not hmac.compare_digest(given.encode(), key.encode()):
            raise ApiError(401, "authorization", "missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")

    def check_question(question: str, field: str = "question") -> None:
        if not question.strip():
            raise ApiError(422, field, "the question is empty")
        if len(question) > config.ask.max_question_chars:
            raise ApiError(422, field, f"the question is {len(question)} characters long, more than {config.ask.max_question_chars}")

    def check_top_k(top_k: int | None) -> int:
        top_k = config.ask.top_k if top_k is None else top_k
        if not 1 <= top_k <= api.max_top_k:
            raise ApiError(422, "top_k", f"top_k must be between 1 and {api.max_top_k}, got {top_k}")
        return top_k

    async def answer(questions: list[str], top_k: int, filters: dict[str, Any] | None, files: list[str] | None) -> list[Ranking]:
        if not state["ready"]:
            raise ApiError(503, None, f"the reader is not ready: {state['error'] or 'still loading'}")
        group = (top_k, json.dumps(filters, sort_keys=True), tuple(files or ()))
        try:
            if api.micro_batching:
                return list(await asyncio.gather(*(batcher.submit(group, q) for q in questions)))
            return await asyncio.get_running_loop().run_in_executor(inference, run_questions, group, questions)
        except DocqaError as exc:
            raise ApiError(409, None, str(exc)) from None

    protected = [Depends(require_key)]

    @app.post("/ask", response_model=AskResponse, responses=_ERRORS, dependencies=protected)
    async def ask(body: AskRequest) -> dict[str, Any]:
        """Answers to one question, as `docqa ask --json` prints them."""
        check_question(body.question)
        top_k = check_top_k(body.top_k)
        if body.filters is not None:
            try:
                qa.store.check_filters(body.filters)
            except Exception as exc:  # Haystack's FilterError, raised for any malformed filter
                raise ApiError(422, "filters", str(exc)) from None
        started = time.perf_counter()
        [ranking] = await answer([body.question], top_k, body.filters, body.files)
        return ranking_json(ranking, time.perf_counter() - started)

    @app.post("/ask/batch", response_model=BatchResponse, responses=_ERRORS, dependencies=protected)
    async def ask_batch(body: BatchRequest) -> dict[str, Any]:
        """Answers to many questions, in order."""
        if not body.questions:
            raise ApiError(422, "questions", "no questions given")
        if len(body.questions) > api.max_batch_request:
            raise ApiError(422, "questions", f"{len(body.questions)} questions, more than {api.max_batch_request}")
        for i, question in enumerate(body.questions):
            check_question(question, f"questions.{i}")
        top_k = check_top_k(body.top_k)
        started = time.perf_counter()
        rankings = await answer(body.questions, top_k, None, None)
        seconds = time.perf_counter() - started
        return {"results": [ranking_json(r, seconds) for r in rankings]}

    @app.get("/documents", response_model=DocumentList, responses=_ERRORS, dependencies=protected)
    async def list_documents(offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
        """Indexed (and failed) files, by path, a page at a time."""
        files, total = await run_in_threadpool(qa.store.list_files, offset, limit)
        return {"total": total, "offset": offset, "limit": limit, "documents": [dataclasses.asdict(f) for f in files]}

    @app.get("/documents/{file_id}", response_model=DocumentDetail, responses=_ERRORS, dependencies=protected)
    async def get_document(file_id: int) -> dict[str, Any]:
        record = await run_in_threadpool(qa.store.get_file, file_id)
        if record is None:
            raise ApiError(404, "file_id", f"no document with id {file_id}")
        passages = await run_in_threadpool(qa.store.file_passages, file_id)
        passage_list = [PassageModel(id=p.id, text=p.content or "", page=p.meta.get("page_number"), start=p.meta.get("split_idx_start")) for p in passages]
        return {**dataclasses.asdict(record), "passage_list": passage_list}

    @app.delete("/documents/{file_id}", status_code=204, responses=_ERRORS, dependencies=protected)
    async def delete_document(file_id: int) -> Response:
        """Forget a file and its passages; an uploaded file is deleted from the data folder too."""
        record = await run_in_threadpool(qa.store.get_file, file_id)
        if record is None or not await run_in_threadpool(qa.store.delete_file, file_id):
            raise ApiError(404, "file_id", f"no document with id {file_id}")
        folder = Path(api.data_folder).resolve()
        path = Path(record.path)
        if path.parent.parent == folder:
            shutil.rmtree(path.parent, ignore_errors=True)
        return Response(status_code=204)

    @app.post("/documents", status_code=201, response_model=UploadResponse, responses=_ERRORS, dependencies=protected)
    async def upload(file: UploadFile = File(...)) -> dict[str, Any]:
        """Store an uploaded PDF, .txt or .md under the data folder and index it."""
        name = safe_name(file.filename or "")
        if not name.lower().endswith(SUPPORTED_SUFFIXES):  # what indexing converts
            raise ApiError(415, "file", f"unsupported file type {Path(name).suffix or '(none)'!r}: upload a .pdf, .txt or .md file")
        folder = Path(api.data_folder).resolve() / uuid.uuid4().hex
        folder.mkdir(parents=True)
        destination = folder / name
        limit = int(api.max_upload_mb * 1024 * 1024)
        try:
            size = await save_limited(file, destination, limit)
            if size > limit:
                raise ApiError(413, "file", f"the file is larger than api.max_upload_mb ({api.max_upload_mb:g} MB)")
            record = await run_in_threadpool(index_upload, destination)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {"id": record.id, "file": str(destination), "passages": record.passages}

    def index_upload(path: Path) -> Any:
        from ingest.indexer import index_paths

        options = dataclasses.replace(config.ingest, workers=0)
        report = index_paths(qa.store, [path], options, workers=0, show_progress=False)
        if report.error is not None:  # the database cannot be written: the server's problem, not the file's
            raise ApiError(503, None, report.error)
        record = qa.store.get_file_by_path(str(path))
        if report.failed:
            if record is not None:
                qa.store.delete_file(record.id)
            raise ApiError(422, "file", report.failures[0].error)
        return record

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz() -> Any:
        """Readiness: the model is loaded and the database answers."""
        if not state["ready"]:
            return JSONResponse({"status": f"not ready: {state['error'] or 'loading the model'}"}, status_code=503)
        try:
            await run_in_threadpool(qa.store.has_passages)
        except Exception as exc:
            return JSONResponse({"status": f"not ready: database error: {exc}"}, status_code=503)
        return {"status": "ready"}

    @app.get("/stats", response_model=StatsModel, responses=_ERRORS, dependencies=protected)
    async def stats() -> dict[str, Any]:
        s = await run_in_threadpool(qa.store.stats)
        return {"files": s.files, "failed": s.failed, "passages": s.passages, "pages": s.pages, "size_bytes": s.size_bytes}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        # The page holds no data (it asks /ask), so it is served without the API key.
        return _PAGE.read_text(encoding="utf-8")

    return app


def safe_name(filename: str) -> str:
    """The last path component of an uploaded name, reduced to safe characters.

    The name never decides where the file goes (that is a new folder docqa names); this
    only keeps it readable: "../../x.pdf" becomes "x.pdf".
    """
    base = re.split(r"[\\/]", filename)[-1]
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .")
    return base[-120:] or "upload"


async def save_limited(upload: UploadFile, destination: Path, limit: int) -> int:
    """Copy the upload to `destination`, stopping once more than `limit` bytes arrived."""
    size = 0
    with destination.open("wb") as out:
        while chunk := await upload.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                break
            out.write(chunk)
    return size
