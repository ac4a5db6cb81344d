"""Files -> cleaned text: PDFs page by page through pypdf, .txt and .md as UTF-8 or a detected encoding.

A text file is read in the encoding its byte-order mark names, else as UTF-8, else in
`ingest.encoding` when that names one, else in the encoding `ingest.encoding.detect` picks
(with a warning; one starting with DOUBTFUL_ENCODING when another reads it as well).

A PDF's pages are cleaned one by one and joined with form feeds, so a passage's page is the
number of form feeds before it plus one. Anything that cannot be turned into text raises
ConversionError with a one-line reason and, where there is one, the fix.

Text files can also be read as a stream (`read_text_file`): decoded and cleaned chunk by
chunk, so a file of hundreds of MB never sits in memory whole.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Protocol

from store.errors import DocqaError

from ingest.clean import clean, clean_stream
from ingest.split import PAGE_BREAK

TEXT_SUFFIXES = (".txt", ".md")
SUPPORTED_SUFFIXES = (".pdf", *TEXT_SUFFIXES)
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Control characters that do not occur in text; more than a few of them means binary data.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BINARY_SAMPLE = 100_000  # characters looked at for control characters
# A streamed file's encoding is chosen from its first bytes; it is read on in chunks.
_ENCODING_SAMPLE = 4 * 1024 * 1024
_CHUNK = 1024 * 1024
# How a warning about an encoding that may be wrong begins: the indexer reports those files apart.
DOUBTFUL_ENCODING = "doubtful encoding"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Decoder(Protocol):
    def decode(self, data: bytes, final: bool = False) -> str: ...


class ConversionError(DocqaError):
    """The file cannot be turned into text; the message is the reason."""


@dataclass(frozen=True)
class Converted:
    text: str  # cleaned text that offsets index; a PDF's pages joined by "\f"
    pages: int | None  # page count of a PDF, None for text files
    warnings: list[str] = field(default_factory=list)


def convert(path: PurePath, data: bytes, encoding: str = "auto") -> Converted:
    """Extract and clean the text of `data`, the content of the file at `path`.

    `encoding` (ingest.encoding) is how text files that are not UTF-8 are read: auto detects it.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ConversionError(f"unsupported file type {suffix or '(none)'!r}: docqa reads .pdf, .txt and .md")
    if not data or data.isspace():
        raise ConversionError("empty file" if not data else "empty file (only whitespace)")
    if suffix == ".pdf":
        return _convert_pdf(data)
    return _convert_text(data, encoding)


def _convert_pdf(data: bytes) -> Converted:
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
                f"PDF stopped at pypdf's safety limits, damaged or built to exhaust memory ({_one_line(exc)}): "
                "if it opens in a PDF viewer, rewrite it with `qpdf in.pdf out.pdf` and index that"
            ) from None
        except NotImplementedError as exc:
            # An unsupported stream filter or encryption method, or a filter name garbled by damage.
            raise ConversionError(
                f"PDF uses something pypdf cannot read ({_one_line(exc)}): "
                "if it opens in a PDF viewer, export its text (`pdftotext in.pdf out.txt`) and index that"
            ) from None
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


def _convert_text(data: bytes, encoding: str) -> Converted:
    warnings: list[str] = []
    # The whole file is at hand, so all of it chooses the encoding.
    text = "".join(read_text([data], data, warnings, encoding))
    return Converted(text, None, warnings)


def read_text_file(file: Readable, warnings: list[str], encoding: str = "auto") -> Iterator[str]:
    """The cleaned text of an open text file, in pieces that join to what convert() gives.

    The encoding is chosen from the first 4 MB; invalid bytes after that become U+FFFD
    with a warning. Memory stays at a few chunks of 1 MB whatever the file's size.
    """
    sample = file.read(_ENCODING_SAMPLE)

    def chunks() -> Iterator[bytes]:
        yield sample
        while chunk := file.read(_CHUNK):
            yield chunk

    return read_text(chunks(), sample, warnings, encoding)


def read_text(chunks: Iterable[bytes], sample: bytes, warnings: list[str], encoding: str = "auto") -> Iterator[str]:
    """Decode, check and clean a text file's bytes, given in `chunks`; `sample` is how they begin.

    Raises ConversionError (while iterating) for binary data and for a file with no text.
    """
    decoder = _decoder(sample, warnings, encoding)
    pieces = iter(chunks)
    text = ""
    # Read on until there is enough text to tell binary data, or no more.
    for chunk in pieces:
        text += decoder.decode(chunk)
        if len(text) >= _BINARY_SAMPLE:
            break
    head = text[:_BINARY_SAMPLE]
    if len(_BINARY.findall(head)) > max(8, len(head) // 1000):
        raise ConversionError("binary file, not text: docqa reads .pdf, .txt and .md")
    blank = True

    def decoded() -> Iterator[str]:
        nonlocal blank
        yield text
        blank = not text.strip()
        for chunk in pieces:
            part = decoder.decode(chunk)
            blank = blank and not part.strip()
            yield part
        yield decoder.decode(b"", True)

    empty = True
    for piece in clean_stream(decoded()):
        empty = False
        yield piece
    if empty:
        raise ConversionError("empty file (only whitespace)" if blank else "empty file (no text after cleaning)")


def _decoder(sample: bytes, warnings: list[str], encoding: str) -> _Decoder:
    """An incremental decoder for a file that begins with `sample` (see the module docstring)."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return codecs.getincrementaldecoder(name)(errors="replace")
    if b"\x00" not in sample:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample, False)
        except UnicodeDecodeError:
            pass
        else:
            return _CheckedDecoder("utf-8-sig", warnings)
    if encoding != "auto":
        return _CheckedDecoder(encoding, warnings)
    from ingest.encoding import detect

    detected = detect(sample)
    if detected is None:
        raise ConversionError("binary file, or text in an unknown encoding: save it as UTF-8")
    if detected.doubtful is None:
        warnings.append(f"not UTF-8; read as {detected.encoding}")
    else:
        warnings.append(
            f"{DOUBTFUL_ENCODING}: not UTF-8; read as {detected.encoding}, but {detected.doubtful}: "
            "if its text is wrong, set ingest.encoding to the right one"
        )
    return codecs.getincrementaldecoder(detected.encoding)(errors="replace")


class _CheckedDecoder:
    """A strict decoder that, at the first invalid byte, warns once and goes on with U+FFFD for bad bytes.

    UTF-8 drops a leading BOM ("utf-8-sig").
    """

    def __init__(self, encoding: str, warnings: list[str]) -> None:
        self._encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._warnings = warnings

    def decode(self, data: bytes, final: bool = False) -> str:
        state = self._decoder.getstate()
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            if self._decoder.errors == "replace":
                raise
            name = "UTF-8" if self._encoding == "utf-8-sig" else self._encoding
            self._warnings.append(f"invalid {name} ({exc.reason}); bad bytes read as U+FFFD")
            self._decoder = codecs.getincrementaldecoder(self._encoding)(errors="replace")
            self._decoder.setstate(state)
            return self._decoder.decode(data, final)


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
