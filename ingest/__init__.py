"""Files -> passages: convert, clean, split and index folders incrementally into the store.

Names are loaded on first use (PEP 562), so the configuration can import `ingest.options`
without importing pypdf or Haystack.
"""

from __future__ import annotations

from store.lazy import lazy_attributes

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

__getattr__ = lazy_attributes(__name__, _LAZY)
