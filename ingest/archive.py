"""Zip-packaged documents (DOCX, EPUB): opened with the checks both need, each failure one line with its fix.

A DOCX and an EPUB are zip archives of XML. Before anything is decompressed the archive's
declared sizes are checked against ingest.max_memory_mb, so a small file that unzips to
gigabytes (a decompression bomb) is refused rather than left to the memory limit; zipfile
stops at a member's declared size, so a member cannot lie its way past the check.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable

from ingest.converted import ConversionError, one_line
from ingest.options import IngestOptions

# An OLE compound file (CFB): old binary Office documents, and Office files encrypted with a password.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Uncompressed bytes a converter may unzip, as a share of the conversion's memory limit: the
# XML it parses takes several times its size again as a tree.
MEMORY_SHARE = 4


def open_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    """`data` as a zip archive, or ConversionError naming what it is instead."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise ConversionError(f"corrupt or truncated {kind} ({type(exc).__name__}: {one_line(exc)}): if it opens, save it again and index the copy") from None
        article = "an" if kind[0] in "AEIOU" else "a"
        raise ConversionError(f"not {article} {kind} (not a zip archive): another kind of file named .{kind.lower()}") from None


def check_unzipped_size(infos: Iterable[zipfile.ZipInfo], kind: str, options: IngestOptions) -> None:
    """Refuse to unzip more than a MEMORY_SHARE-th of ingest.max_memory_mb."""
    total = sum(info.file_size for info in infos)
    limit = options.max_memory_mb * 1024 * 1024 // MEMORY_SHARE
    if total > limit:
        raise ConversionError(
            f"{kind} unzips to {total / 2**20:,.0f} MB, more than 1/{MEMORY_SHARE} of ingest.max_memory_mb "
            f"({options.max_memory_mb} MB): a decompression bomb, or raise ingest.max_memory_mb to index it"
        )


def read_member(archive: zipfile.ZipFile, name: str, kind: str) -> bytes:
    """One member's bytes; a damaged member is a ConversionError."""
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, KeyError, ValueError, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: a member encrypted with a zip password; NotImplementedError: a compression zipfile lacks.
        raise ConversionError(f"corrupt {kind}: cannot unzip {name} ({type(exc).__name__}: {one_line(exc)})") from None
