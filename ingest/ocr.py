"""OCR for pages without a text layer.

Placeholder until an OCR engine is wired in: a PDF with no text at all is reported as
before, one with some text pages is indexed from those, with a warning naming the pages left out.
"""

from __future__ import annotations

from ingest.converted import ConversionError
from ingest.options import IngestOptions


def ocr_pdf_pages(data: bytes, pages: list[int], options: IngestOptions, warnings: list[str], has_text: bool) -> dict[int, str]:
    """The text of the PDF's pages `pages` (0-based) read by OCR, by page index."""
    if not has_text:
        raise ConversionError("PDF has no text layer (scanned?): run OCR on it first, e.g. `ocrmypdf in.pdf out.pdf`")
    warnings.append(f"{len(pages)} page(s) without a text layer left out (no OCR engine)")
    return {}
