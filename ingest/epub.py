"""EPUB books -> cleaned text: the XHTML documents of the spine, in reading order, read as HTML.

An EPUB is a zip: META-INF/container.xml names the package file (OPF), whose manifest lists
the book's files and whose spine orders the documents a reader pages through. Each spine
document goes through ingest/html.py's `render` (so navigation, scripts and hidden
elements are left out as on a web page, and the book's table of contents, a <nav>, with
them), except that <aside>s stay: in a book they are its footnotes. Their <title>s, which
repeat the book's or the chapter's name, are left out. The documents are joined by a
paragraph break.

Read with zipfile and lxml rather than EbookLib: EbookLib is AGPL-licensed (the reason the
PDF converter does not use PyMuPDF), and it loads every file of the book, images included,
where only the spine's documents are needed.

Chapters are not pages: an EPUB reflows, so it has none (`pages` is None).
"""

from __future__ import annotations

import posixpath
import zipfile
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ingest.archive import check_unzipped_size, open_zip, read_member
from ingest.clean import clean
from ingest.converted import ConversionError, Converted, one_line
from ingest.html import NO_TEXT, decode_html, render
from ingest.options import IngestOptions

if TYPE_CHECKING:
    from lxml.etree import _Element

_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
_OPF = "{http://www.idpf.org/2007/opf}"
_CONTAINER_NS = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_XMLENC = "{http://www.w3.org/2001/04/xmlenc#}"
_DOCUMENT_TYPES = ("application/xhtml+xml", "text/html")


def convert_epub(data: bytes, options: IngestOptions) -> Converted:
    """The cleaned text of an EPUB's spine documents (see the module docstring)."""
    warnings: list[str] = []
    with open_zip(data, "EPUB") as archive:
        documents = _spine(archive, warnings, options)
        encrypted = _encrypted(archive, options) & set(documents)
        if encrypted:
            raise ConversionError(
                f"EPUB with DRM: {len(encrypted)} of its {len(documents)} chapters are encrypted ({_ENCRYPTION}): "
                "docqa cannot read them; index a DRM-free copy"
            )
        present = [name for name in documents if name in set(archive.namelist())]
        for name in documents:
            if name not in present:
                warnings.append(f"spine document {name} is missing from the book; left out")
        check_unzipped_size((archive.getinfo(name) for name in present), "EPUB", options)
        texts = [_chapter(archive, name, warnings, options) for name in present]
    text = clean("\n\n".join(texts))
    if not text:
        raise ConversionError(f"EPUB with {NO_TEXT}" if present else "EPUB with no text: its spine lists no document that is in the book")
    return Converted(text, None, warnings)


def _chapter(archive: zipfile.ZipFile, name: str, warnings: list[str], options: IngestOptions) -> str:
    binary = f"EPUB with binary data, not XHTML, in its chapter {name}: damaged, or encrypted by DRM; index a DRM-free copy"
    markup = decode_html(read_member(archive, name, "EPUB"), warnings, options.encoding, binary)
    return render(markup, title=False, book=True)


def _spine(archive: zipfile.ZipFile, warnings: list[str], options: IngestOptions) -> list[str]:
    """The zip names of the spine's documents, in reading order."""
    names = set(archive.namelist())
    if _CONTAINER not in names:
        raise ConversionError(f"not an EPUB (a zip archive without {_CONTAINER}): another kind of file named .epub")
    rootfile = _parse(archive, _CONTAINER, options).find(f"{_CONTAINER_NS}rootfiles/{_CONTAINER_NS}rootfile")
    opf_name = rootfile.get("full-path") if rootfile is not None else None
    if not opf_name:
        raise ConversionError(f"corrupt EPUB: {_CONTAINER} names no package file (rootfile full-path)")
    if opf_name not in names:
        raise ConversionError(f"corrupt EPUB: its package file {opf_name} is missing")
    opf = _parse(archive, opf_name, options)
    folder = posixpath.dirname(opf_name)
    manifest = {}
    for item in opf.iterfind(f"{_OPF}manifest/{_OPF}item"):
        href, media_type = item.get("href"), item.get("media-type")
        if item.get("id") and href:
            manifest[item.get("id")] = (_resolve(folder, href), media_type)
    spine = opf.find(f"{_OPF}spine")
    if spine is None:
        raise ConversionError(f"corrupt EPUB: its package file {opf_name} has no spine (the order of its chapters)")
    documents: list[str] = []
    for itemref in spine.iterfind(f"{_OPF}itemref"):
        entry = manifest.get(itemref.get("idref", ""))
        if entry is None:
            warnings.append(f"spine item {itemref.get('idref')!r} is not in the manifest; left out")
        elif entry[1] in _DOCUMENT_TYPES and entry[0] not in documents:
            documents.append(entry[0])
    return documents


def _encrypted(archive: zipfile.ZipFile, options: IngestOptions) -> set[str]:
    """Zip names that META-INF/encryption.xml says are encrypted (fonts obfuscated by the
    publisher are listed too, which is why only encrypted chapters count as DRM)."""
    if _ENCRYPTION not in set(archive.namelist()):
        return set()
    encryption = _parse(archive, _ENCRYPTION, options)
    return {
        _resolve("", reference.get("URI", ""))
        for reference in encryption.iter(f"{_XMLENC}CipherReference")
    }


def _resolve(folder: str, href: str) -> str:
    """A manifest href (relative to the package file's folder, percent-encoded) as a zip name."""
    path = unquote(href.split("#", 1)[0])
    return posixpath.normpath(posixpath.join(folder, path)).lstrip("/")


def _parse(archive: zipfile.ZipFile, name: str, options: IngestOptions) -> _Element:
    from lxml import etree

    check_unzipped_size([archive.getinfo(name)], "EPUB", options)
    # No entities, no network, no huge trees: a book's XML may be hostile.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        return etree.fromstring(read_member(archive, name, "EPUB"), parser)
    except etree.XMLSyntaxError as exc:
        reason = " ".join(exc.msg.split()) if exc.msg else one_line(exc)  # lxml's msg, without "(<string>, line 1)"
        raise ConversionError(f"corrupt EPUB: {name} is not well-formed XML ({reason})") from None
