"""Plain records that cross from ingest into the store (no Haystack, no SQLAlchemy).

Kept apart from document_store so that conversion worker processes can import them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileInfo:
    """What indexing knows about a file on disk before and after converting it."""

    path: str
    sha256: str | None
    size: int | None
    mtime: float | None


@dataclass(frozen=True)
class FileState:
    """A file as the store last recorded it."""

    id: int
    path: str
    sha256: str | None
    splitter: str | None
    status: str  # "indexed" or "failed"


@dataclass(frozen=True)
class Failure:
    path: str
    error: str


@dataclass(frozen=True)
class StoreStats:
    files: int  # indexed successfully
    failed: int
    passages: int
    pages: int
    failures: list[Failure]
    size_bytes: int  # database file plus its WAL


@dataclass(frozen=True)
class FileRecord:
    """A file as `docqa stats`, the HTTP API and scripts see it."""

    id: int
    path: str
    status: str  # "indexed" or "failed"
    error: str | None
    pages: int | None
    passages: int
    size: int | None
    sha256: str | None
    indexed_at: str  # ISO 8601, UTC
