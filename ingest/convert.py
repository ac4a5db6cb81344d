"""Files -> cleaned text: the one entry point the workers call, one converter module per kind of document.

`convert()` picks the converter by the file's suffix (CONVERTERS) and checks what every kind
shares (a supported suffix, not empty). Each converter takes the file's bytes and the
indexing options and returns a Converted, or raises ConversionError with a one-line reason
and, where there is one, the fix. Converter modules are imported on first use, so a worker
that meets only text files never imports a PDF library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import PurePath

from ingest.converted import PAGE_BREAK, ConversionError, Converted
from ingest.options import IngestOptions
from ingest.text import DOUBTFUL_ENCODING, read_text, read_text_file

# suffix -> "module:function" of its converter.
CONVERTERS = {
    ".pdf": "ingest.pdf:convert_pdf",
    ".txt": "ingest.text:convert_text",
    ".md": "ingest.text:convert_text",
    ".docx": "ingest.docx:convert_docx",
    ".html": "ingest.html:convert_html",
    ".htm": "ingest.html:convert_html",
    ".epub": "ingest.epub:convert_epub",
    ".png": "ingest.image:convert_image",
    ".jpg": "ingest.image:convert_image",
    ".jpeg": "ingest.image:convert_image",
    ".tif": "ingest.image:convert_image",
    ".tiff": "ingest.image:convert_image",
}
TEXT_SUFFIXES = (".txt", ".md")  # read as plain text, and streamed when large
SUPPORTED_SUFFIXES = tuple(CONVERTERS)

__all__ = [
    "CONVERTERS",
    "DOUBTFUL_ENCODING",
    "PAGE_BREAK",
    "SUPPORTED_SUFFIXES",
    "TEXT_SUFFIXES",
    "ConversionError",
    "Converted",
    "convert",
    "read_text",
    "read_text_file",
    "supported_kinds",
]


def supported_kinds(conjunction: str = "and") -> str:
    """The suffixes docqa reads, for messages: '.pdf, .txt, .md, ... and .epub'."""
    names = list(SUPPORTED_SUFFIXES)
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def convert(path: PurePath, data: bytes, options: IngestOptions = IngestOptions()) -> Converted:
    """Extract and clean the text of `data`, the content of the file at `path`."""
    suffix = path.suffix.lower()
    if suffix not in CONVERTERS:
        raise ConversionError(f"unsupported file type {suffix or '(none)'!r}: docqa reads {supported_kinds()}")
    if not data or data.isspace():
        raise ConversionError("empty file" if not data else "empty file (only whitespace)")
    return _converter(suffix)(data, options)


def _converter(suffix: str) -> Callable[[bytes, IngestOptions], Converted]:
    module, function = CONVERTERS[suffix].split(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]
