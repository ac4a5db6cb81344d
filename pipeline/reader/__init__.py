"""The extractive reader: the only part of docqa that imports torch and transformers.

Names are loaded on first use (PEP 562), so importing `pipeline.reader` costs nothing until
a reader is built.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Reader": "pipeline.reader.reader",
    "ExtractiveReader": "pipeline.reader.component",
    "ModelLoadError": "pipeline.reader.loading",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pipeline.reader' has no attribute {name!r}")
