"""Files -> passages: convert, clean, split and index folders incrementally into the store.

Names are loaded on first use (PEP 562), so the configuration can import `ingest.options`
without importing pypdf or Haystack.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ConversionError": "ingest.convert",
    "Converted": "ingest.convert",
    "convert": "ingest.convert",
    "IndexReport": "ingest.indexer",
    "index_paths": "ingest.indexer",
    "IngestOptions": "ingest.options",
    "Split": "ingest.split",
    "split_text": "ingest.split",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
