"""SQLite storage for docqa: files, passages, the FTS5 index and Haystack's DocumentStore protocol.

Names are loaded on first use (PEP 562), so `docqa --help` and the configuration can import
`store.errors` without importing Haystack.
"""

from __future__ import annotations

import importlib
from typing import Any

from store.errors import DatabaseMissingError, DocqaError, SchemaVersionError, StoreError

_LAZY = {
    "Failure": "store.document_store",
    "FileInfo": "store.document_store",
    "FileState": "store.document_store",
    "SQLiteDocumentStore": "store.document_store",
    "StoreStats": "store.document_store",
}

__all__ = ["DatabaseMissingError", "DocqaError", "SchemaVersionError", "StoreError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")
