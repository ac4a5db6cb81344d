"""GET /documents/{id}/pages/{page}: a PDF page as PNG with an answer's words boxed (pipeline.pages renders it).

The route (in app) is a thin shell; here: its parameters' OpenAPI text, the lookups and
their errors (404 no such document, page or passage; 415 not a PDF), and HTTP caching
(an ETag of the file's content and the request, and Cache-Control).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from store.document_store import SQLiteDocumentStore

from pipeline.pages import Highlight, PageError, highlight_in_passage, render_page
from pipeline.serve.errors import ApiError

HIGHLIGHT = Query(
    None,
    pattern=r"^[^:]{1,128}:[0-9]{1,9}:[0-9]{1,9}$",
    description="PASSAGE_ID:START:END, an answer's `passage_id`, `start` and `end` (or a source's): the answer's words on "
    "this page are boxed. The answer is found on the page by its letters and digits, nearest the passage's text around it.",
)
PAGE_IMAGE = {
    "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
    "description": "The page as PNG, `width` pixels wide. X-Highlight-Boxes: the boxes drawn, as JSON [[left, top, right, bottom], ...] "
    "in pixels ([] when the answer's words were not found on the page).",
}


async def page_response(store: SQLiteDocumentStore, file_id: int, page: int, width: int, highlight: str | None, if_none_match: str | None) -> Response:
    """The PNG response for page `page` of document `file_id`, or an ApiError naming what is wrong."""
    record = await run_in_threadpool(store.get_file, file_id)
    if record is None or record.status != "indexed":
        raise ApiError(404, "file_id", f"no document with id {file_id}" if record is None else f"document {file_id} failed to index: {record.error}")
    if not record.path.lower().endswith(".pdf"):
        raise ApiError(415, "file_id", f"document {file_id} ({Path(record.path).name}) is not a PDF: its passages are its text (GET /documents/{file_id})")
    if record.pages is not None and page > record.pages:
        raise ApiError(404, "page", f"document {file_id} has {record.pages} page{'s' if record.pages != 1 else ''}: page {page} is not one of them")
    marked = await run_in_threadpool(_highlight, store, file_id, page, highlight) if highlight is not None else None
    tag = f'"{record.sha256}-{page}-{width}-{hashlib.sha256((highlight or "").encode()).hexdigest()[:16]}"'
    cache = {"Cache-Control": "private, max-age=86400", "ETag": tag}
    if if_none_match == tag:
        return Response(status_code=304, headers=cache)
    try:
        rendered = await run_in_threadpool(render_page, record.path, page, width, marked)
    except FileNotFoundError:
        raise ApiError(404, "file_id", f"the file of document {file_id} is no longer at {record.path}: index it again, or delete the document") from None
    boxes = json.dumps([list(box) for box in rendered.boxes])
    return Response(rendered.png, media_type="image/png", headers={**cache, "X-Highlight-Boxes": boxes})


def _highlight(store: SQLiteDocumentStore, file_id: int, page: int, highlight: str) -> Highlight:
    passage_id, start, end = highlight.rsplit(":", 2)
    [passage] = store.filter_documents({"field": "id", "operator": "==", "value": passage_id}) or [None]
    if passage is None or passage.meta.get("file_id") != file_id:
        raise ApiError(404, "highlight", f"document {file_id} has no passage {passage_id!r}")
    try:
        return highlight_in_passage(
            passage.content or "", int(start), int(end), passage.meta.get("page_number"), page, passage.meta.get("next_page_spans") or ()
        )
    except PageError as exc:
        raise ApiError(404, "highlight", str(exc)) from None
