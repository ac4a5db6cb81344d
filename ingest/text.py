"""Text files (.txt, .md) -> cleaned text, read whole or as a stream.

A text file is read in the encoding its byte-order mark names, else as UTF-8, else in
`ingest.encoding` when that names one, else in the encoding `ingest.encoding.detect` picks
(with a warning; one starting with DOUBTFUL_ENCODING when another reads it as well).

Text files can also be read as a stream (`read_text_file`): decoded and cleaned chunk by
chunk, so a file of hundreds of MB never sits in memory whole.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from typing import Protocol

from ingest.clean import clean_stream
from ingest.converted import ConversionError, Converted
from ingest.options import IngestOptions

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


def convert_text(data: bytes, options: IngestOptions) -> Converted:
    """The cleaned text of a .txt or .md file, in the encoding chosen as the module docstring says."""
    encoding = options.encoding
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
    if looks_binary(text):
        # Imported here: ingest.convert imports this module.
        from ingest.convert import supported_kinds

        raise ConversionError(f"binary file, not text: docqa reads {supported_kinds()}")
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


def decode(data: bytes, warnings: list[str], encoding: str = "auto") -> str:
    """`data` decoded as a text file is (see the module docstring), for converters of other text formats (HTML)."""
    return _decoder(data, warnings, encoding).decode(data, True)


def looks_binary(text: str) -> bool:
    """Whether decoded text holds more control characters than text does: binary data."""
    head = text[:_BINARY_SAMPLE]
    return len(_BINARY.findall(head)) > max(8, len(head) // 1000)


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
