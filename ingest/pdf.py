"""PDFs -> page texts: pypdf reads the text layer, page by page; OCR reads pages that have none.

A PDF's pages are cleaned one by one and joined with form feeds, so a passage's page is the
number of form feeds before it plus one. Anything that cannot be turned into text raises
ConversionError with a one-line reason and, where there is one, the fix.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ingest.clean import clean
from ingest.converted import PAGE_BREAK, ConversionError, Converted, one_line
from ingest.options import IngestOptions


def convert_pdf(data: bytes, options: IngestOptions) -> Converted:
    """The text of a PDF, page by page; pages without a text layer are read by OCR (ingest/ocr.py)."""
    if b"%PDF-" not in data[:1024]:  # where PDF readers look for the header
        raise ConversionError("not a PDF (no %PDF- header at its start): another kind of file named .pdf, or not a document at all")
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError

    warnings: list[str] = []
    with _capture_pypdf_warnings(warnings):
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not _decrypt_with_empty_password(reader):
                raise ConversionError("encrypted PDF that needs a password: save a decrypted copy (e.g. `qpdf --decrypt`) and index that")
            pages = [clean(page.extract_text() or "") for page in reader.pages]
        except ConversionError:
            raise
        except FileNotDecryptedError:
            raise ConversionError("encrypted PDF that needs a password: save a decrypted copy (e.g. `qpdf --decrypt`) and index that") from None
        except DependencyError as exc:
            raise ConversionError(f"cannot decrypt this PDF: {exc}") from None
        except LimitReachedError as exc:
            # pypdf's guards against decompression bombs and reference loops; damaged files
            # trip them too.
            raise ConversionError(
                f"PDF stopped at pypdf's safety limits, damaged or built to exhaust memory ({one_line(exc)}): "
                "if it opens in a PDF viewer, rewrite it with `qpdf in.pdf out.pdf` and index that"
            ) from None
        except NotImplementedError as exc:
            # An unsupported stream filter or encryption method, or a filter name garbled by damage.
            raise ConversionError(
                f"PDF uses something pypdf cannot read ({one_line(exc)}): "
                "if it opens in a PDF viewer, export its text (`pdftotext in.pdf out.txt`) and index that"
            ) from None
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError, AssertionError) as exc:
            # pypdf reports damage with many exception types; each means the same to the user.
            raise ConversionError(f"corrupt or truncated PDF ({type(exc).__name__}: {one_line(exc)})") from None
    if not pages:
        raise ConversionError("PDF with no pages")
    if not all(pages):
        # Scanned pages: OCR reads them, a partly scanned PDF keeping its text pages. Without
        # an OCR engine a PDF with some text is indexed from that text, with a warning.
        from ingest.ocr import ocr_pdf_pages

        blank = [i for i, page in enumerate(pages) if not page]
        for i, page_text in ocr_pdf_pages(data, blank, options, warnings, any(pages)).items():
            pages[i] = clean(page_text)
    return Converted(PAGE_BREAK.join(pages), len(pages), warnings)


def _decrypt_with_empty_password(reader: object) -> bool:
    # Many PDFs are encrypted only against editing, with an empty user password.
    from pypdf import PasswordType

    return reader.decrypt("") != PasswordType.NOT_DECRYPTED  # type: ignore[attr-defined]



class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(" ".join(record.getMessage().split())[:200])


@contextmanager
def _capture_pypdf_warnings(sink: list[str]) -> Iterator[None]:
    """Collect what pypdf logs about a damaged file, so the report shows it for that file."""
    logger = logging.getLogger("pypdf")
    handler, propagate = _ListHandler(sink), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
