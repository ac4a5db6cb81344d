"""Import Haystack without importing torch.

`haystack.utils.device` runs `import torch` at import time whenever torch is installed
(about 1.3 s and a few hundred MB here), although only Haystack's model components use
it. docqa's store, indexing and `--help` must start without torch (DESIGN.md), so every
docqa module that needs Haystack imports it through here: Haystack is imported once with
torch hidden, and the modules that would have imported torch get a stand-in for their
LazyImport that imports torch the first time they check for it. So Haystack's own torch
components (its device helpers, TransformersExtractiveReader) still work in the same
process; they just load torch when they need it, as docqa's reader does.

If torch is already imported (a script that imported it before docqa), nothing is hidden.
"""

from __future__ import annotations

import sys
from types import ModuleType


class _TorchOnFirstCheck:
    """Replaces a Haystack module's failed LazyImport of torch: check() imports torch then."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def check(self) -> None:
        import torch

        self.module.torch = torch  # type: ignore[attr-defined]


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
    for name, module in list(sys.modules.items()):
        lazy = getattr(module, "torch_import", None) if name.startswith("haystack") else None
        if lazy is not None and getattr(lazy, "_deferred", None) is not None:
            module.torch_import = _TorchOnFirstCheck(module)  # type: ignore[attr-defined]


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
]
