"""The extractive reader: the only part of docqa that imports torch and transformers.

Names are loaded on first use (PEP 562), so importing `pipeline.reader` costs nothing until
a reader is built.
"""

from __future__ import annotations

from store.lazy import lazy_attributes

_LAZY = {
    "Reader": "pipeline.reader.reader",
    "ExtractiveReader": "pipeline.reader.component",
    "ModelLoadError": "pipeline.reader.loading",
    "describe_precision": "pipeline.reader.precision",
}

__all__ = list(_LAZY)

__getattr__ = lazy_attributes(__name__, _LAZY)
