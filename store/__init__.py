"""SQLite storage for docqa: files, passages, the FTS5 index and Haystack's DocumentStore protocol.

Names are loaded on first use (PEP 562), so `docqa --help` and the configuration can import
`store.errors` without importing Haystack.
"""

from __future__ import annotations

import importlib
from typing import Any

from store.errors import DatabaseMissingError, DocqaError, SchemaVersionError, StoreError

_LAZY = {
    "Failure": "store.records",
    "FileInfo": "store.records",
    "FileState": "store.records",
    "SQLiteDocumentStore": "store.document_store",
    "StoreStats": "store.records",
}

__all__ = ["DatabaseMissingError", "DocqaError", "SchemaVersionError", "StoreError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")
