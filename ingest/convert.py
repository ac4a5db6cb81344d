"""Files -> cleaned text: PDFs page by page through pypdf, .txt and .md as UTF-8 or a detected encoding.

A PDF's pages are cleaned one by one and joined with form feeds, so a passage's page is the
number of form feeds before it plus one. Anything that cannot be turned into text raises
ConversionError with a one-line reason and, where there is one, the fix.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath

from store.errors import DocqaError

from ingest.clean import clean
from ingest.split import PAGE_BREAK

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Control characters that do not occur in text; more than a few of them means binary data.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


class ConversionError(DocqaError):
    """The file cannot be turned into text; the message is the reason."""


@dataclass(frozen=True)
class Converted:
    text: str  # cleaned text that offsets index; a PDF's pages joined by "\f"
    pages: int | None  # page count of a PDF, None for text files
    warnings: list[str] = field(default_factory=list)


def convert(path: PurePath, data: bytes) -> Converted:
    """Extract and clean the text of `data`, the content of the file at `path`."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ConversionError(f"unsupported file type {suffix or '(none)'!r}: docqa reads .pdf, .txt and .md")
    if not data.strip():
        raise ConversionError("empty file" if not data else "empty file (only whitespace)")
    if suffix == ".pdf":
        return _convert_pdf(data)
    return _convert_text(data)


def _convert_pdf(data: bytes) -> Converted:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

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
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError, AssertionError) as exc:
            # pypdf reports damage with many exception types; each means the same to the user.
            raise ConversionError(f"corrupt or truncated PDF ({type(exc).__name__}: {_one_line(exc)})") from None
    if not pages:
        raise ConversionError("PDF with no pages")
    if not any(pages):
        raise ConversionError("PDF has no text layer (scanned?): run OCR on it first, e.g. `ocrmypdf in.pdf out.pdf`")
    return Converted(PAGE_BREAK.join(pages), len(pages), warnings)


def _decrypt_with_empty_password(reader: object) -> bool:
    # Many PDFs are encrypted only against editing, with an empty user password.
    from pypdf import PasswordType

    return reader.decrypt("") != PasswordType.NOT_DECRYPTED  # type: ignore[attr-defined]


def _convert_text(data: bytes) -> Converted:
    warnings: list[str] = []
    text = _decode(data, warnings)
    if len(_BINARY.findall(text[:100_000])) > max(8, len(text[:100_000]) // 1000):
        raise ConversionError("binary file, not text: docqa reads .pdf, .txt and .md")
    cleaned = clean(text)
    if not cleaned:
        raise ConversionError("empty file (no text after cleaning)")
    return Converted(cleaned, None, warnings)


def _decode(data: bytes, warnings: list[str]) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if b"\x00" not in data:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ConversionError("binary file, or text in an unknown encoding: save it as UTF-8")
    warnings.append(f"not UTF-8; read as {best.encoding}")
    return str(best)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or "no details"


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
