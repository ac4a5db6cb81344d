"""Uploaded files: a safe name, a size limit while receiving, a folder of their own, then indexing."""

from __future__ import annotations

import dataclasses
import re
import shutil
import uuid
from pathlib import Path

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from ingest.convert import SUPPORTED_SUFFIXES, supported_kinds
from ingest.files import sha256_file
from store.document_store import SQLiteDocumentStore
from store.records import FileRecord

from pipeline.config import Config
from pipeline.serve.errors import ApiError


async def store_and_index(upload: UploadFile, store: SQLiteDocumentStore, config: Config) -> tuple[FileRecord, Path, bool]:
    """Save `upload` in a new folder under api.data_folder and index it; nothing is kept when either fails.

    Returns the document, where its file is, and whether it was there already: content that
    is indexed already (the same file uploaded again) is not stored twice, and the document
    that holds it is returned.
    """
    name = safe_name(upload.filename or "")
    if not name.lower().endswith(SUPPORTED_SUFFIXES):  # what indexing converts
        raise ApiError(415, "file", f"unsupported file type {Path(name).suffix or '(none)'!r}: upload a {supported_kinds('or')} file")
    folder = Path(config.api.data_folder).resolve() / uuid.uuid4().hex
    folder.mkdir(parents=True)
    destination = folder / name
    limit = int(config.api.max_upload_mb * 1024 * 1024)
    try:
        if await save_limited(upload, destination, limit) > limit:
            raise ApiError(413, "file", f"the file is larger than api.max_upload_mb ({config.api.max_upload_mb:g} MB)")
        same = await run_in_threadpool(store.get_indexed_file_by_sha256, sha256_file(str(destination)))
        if same is not None:
            shutil.rmtree(folder, ignore_errors=True)
            return same, Path(same.path), True
        record = await run_in_threadpool(_index, destination, store, config)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return record, destination, False


def remove_upload(path: str, config: Config) -> None:
    """Delete a file's upload folder, when the file is one docqa stored (files indexed in place stay)."""
    stored = Path(path)
    if stored.parent.parent == Path(config.api.data_folder).resolve():
        shutil.rmtree(stored.parent, ignore_errors=True)


def _index(path: Path, store: SQLiteDocumentStore, config: Config) -> FileRecord:
    from ingest.indexer import index_paths

    options = dataclasses.replace(config.ingest, workers=0)
    report = index_paths(store, [path], options, workers=0, show_progress=False)
    if report.error is not None:  # the database cannot be written: the server's problem, not the file's
        raise ApiError(503, None, report.error)
    record = store.get_file_by_path(str(path))
    if report.failed or record is None:
        if record is not None:
            store.delete_file(record.id)
        raise ApiError(422, "file", report.failures[0].error if report.failures else f"{path.name} could not be indexed")
    return record


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
