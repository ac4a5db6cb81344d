"""Import Haystack without importing torch.

`haystack.utils.device` runs `import torch` at import time whenever torch is installed
(about 1.3 s and a few hundred MB here), although only Haystack's own model components use
it. docqa's store, indexing and `--help` must start without torch (DESIGN.md), so every docqa
package imports this module first: it imports Haystack once with torch hidden. The reader,
which does need torch, calls `torch_loaded()` after importing it, so that Haystack's device
helpers work again in that process.

If torch is already imported (a script that imported it before docqa), nothing is hidden.
"""

from __future__ import annotations

import sys


def _import_haystack_without_torch() -> None:
    if "haystack" in sys.modules or "torch" in sys.modules:
        return
    # A None entry makes `import torch` raise ImportError, which Haystack's LazyImport
    # records instead of importing; the entry is removed again straight after.
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import haystack  # noqa: F401
        import haystack.utils.device  # noqa: F401
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


def torch_loaded() -> None:
    """Point Haystack's device helpers at torch once the reader has imported it."""
    import torch
    import haystack.utils.device as device

    if getattr(device, "torch", None) is not torch:
        device.torch = torch  # type: ignore[attr-defined]
        device.torch_import._deferred = None  # LazyImport.check() raises while this is set


_import_haystack_without_torch()

# The Haystack names docqa uses, imported through here so that importing them hides torch
# first. Modules that only need them on some paths import them inside functions, which
# keeps `docqa index` on an unchanged folder from paying for Haystack's import (~0.35 s).
from haystack import Document, default_from_dict, default_to_dict  # noqa: E402
from haystack.dataclasses import ExtractedAnswer  # noqa: E402
from haystack.document_stores.errors import DuplicateDocumentError  # noqa: E402
from haystack.document_stores.types import DuplicatePolicy  # noqa: E402
from haystack.errors import FilterError  # noqa: E402

__all__ = [
    "Document",
    "DuplicateDocumentError",
    "DuplicatePolicy",
    "ExtractedAnswer",
    "FilterError",
    "default_from_dict",
    "default_to_dict",
    "torch_loaded",
]
