from __future__ import annotations

from pathlib import PurePath

import pytest

from ingest.convert import ConversionError, convert
from ingest.options import IngestOptions
from ingest.split import split_text
from tests.formats import CONTAINER, opf, write_epub, zip_bytes

CHAPTERS = [
    ("The Source", ["The Danube rises in the Black Forest.", "Two streams, the Brigach and the Breg, join at Donaueschingen."]),
    ("The Delta", ["It ends in a delta on the Black Sea.", "The delta is a UNESCO World Heritage Site."]),
]
BOOK_TEXT = (
    "The Source\n\nThe Danube rises in the Black Forest.\n\nTwo streams, the Brigach and the Breg, join at Donaueschingen.\n\n"
    "The Delta\n\nIt ends in a delta on the Black Sea.\n\nThe delta is a UNESCO World Heritage Site."
)


def xhtml(body: str, head: str = "<title>Rivers</title>", declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return f'{declaration}<html xmlns="http://www.w3.org/1999/xhtml"><head>{head}</head><body>{body}</body></html>'


def book(documents: dict[str, str | bytes], *, spine: list[str] | None = None, extra: dict[str, str | bytes] | None = None) -> bytes:
    members: dict[str, str | bytes] = {"mimetype": "application/epub+zip", "META-INF/container.xml": CONTAINER}
    members["OEBPS/content.opf"] = opf(spine if spine is not None else list(documents))
    members.update({f"OEBPS/{name}": content for name, content in documents.items()})
    members.update(extra or {})
    return zip_bytes(members)


def refused(data: bytes, options: IngestOptions = IngestOptions()) -> str:
    with pytest.raises(ConversionError) as err:
        convert(PurePath("book.epub"), data, options)
    return str(err.value)


def test_an_ebooklib_book_is_read_chapter_by_chapter_without_its_table_of_contents(tmp_path):
    path = write_epub(tmp_path / "danube.epub", CHAPTERS)
    converted = convert(path, path.read_bytes())
    assert (converted.text, converted.pages, converted.warnings) == (BOOK_TEXT, None, [])


def test_offsets_of_passages_and_of_a_known_sentence_are_exact(tmp_path):
    path = write_epub(tmp_path / "danube.epub", CHAPTERS)
    text = convert(path, path.read_bytes()).text
    assert text.index("It ends in a delta") == 126
    assert text[126 : 126 + 36] == "It ends in a delta on the Black Sea."
    splits = split_text(text, 8, 2)
    assert [s.start for s in splits] == [0, 32, 68, 95, 134, 152]
    assert all(text[s.start : s.start + len(s.text)] == s.text for s in splits)


def test_spine_order_self_closed_xhtml_declared_encodings_escaped_names_and_footnotes():
    note = '<aside epub:type="footnote" id="n1"><p>1. A note of the book.</p></aside>'
    documents = {
        "Text/part%202.xhtml": xhtml(f"<p>Second: caf\u00e9.</p>{note}", declaration='<?xml version="1.0" encoding="windows-1252"?>').encode("cp1252"),
        "Text/one.xhtml": xhtml("<p>First.<br/>Same paragraph.</p><div/><p>After an empty div.</p>", head="<title/>"),
    }
    members = {"Text/part 2.xhtml": documents["Text/part%202.xhtml"], "Text/one.xhtml": documents["Text/one.xhtml"]}
    data = book(members, spine=["Text/one.xhtml", "Text/part%202.xhtml"])
    converted = convert(PurePath("b.epub"), data)
    assert (converted.text, converted.warnings) == ("First. Same paragraph.\n\nAfter an empty div.\n\nSecond: caf\u00e9.\n\n1. A note of the book.", [])


def test_a_missing_chapter_is_left_out_with_a_warning():
    converted = convert(PurePath("b.epub"), book({"a.xhtml": xhtml("<p>Here.</p>")}, spine=["a.xhtml", "gone.xhtml"]))
    assert (converted.text, converted.warnings) == ("Here.", ["spine document OEBPS/gone.xhtml is missing from the book; left out"])


def test_drm_is_named_and_obfuscated_fonts_are_not_drm():
    encrypted_chapter = (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">'
        '<enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
        '<enc:CipherData><enc:CipherReference URI="OEBPS/a.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>'
    )
    data = book({"a.xhtml": b"\x93\x8f\x01\x02 ciphertext \x00\x07", "b.xhtml": xhtml("<p>Clear.</p>")}, extra={"META-INF/encryption.xml": encrypted_chapter})
    assert refused(data) == (
        "EPUB with DRM: 1 of its 2 chapters are encrypted (META-INF/encryption.xml): docqa cannot read them; index a DRM-free copy"
    )
    font = encrypted_chapter.replace("OEBPS/a.xhtml", "OEBPS/fonts/serif.otf").replace("xmlenc#aes128-cbc", "http://www.idpf.org/2008/embedding")
    data = book({"a.xhtml": xhtml("<p>Readable.</p>")}, extra={"META-INF/encryption.xml": font, "OEBPS/fonts/serif.otf": b"\x00\x01"})
    assert convert(PurePath("b.epub"), data).text == "Readable."


def test_broken_books_are_named():
    assert refused(b"%PDF-1.4 not a book") == "not an EPUB (not a zip archive): another kind of file named .epub"
    assert refused(zip_bytes({"mimetype": "application/epub+zip"})) == (
        "not an EPUB (a zip archive without META-INF/container.xml): another kind of file named .epub"
    )
    assert refused(zip_bytes({"META-INF/container.xml": CONTAINER})) == "corrupt EPUB: its package file OEBPS/content.opf is missing"
    assert refused(zip_bytes({"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": "<package"})) == (
        "corrupt EPUB: OEBPS/content.opf is not well-formed XML (Couldn't find end of Start Tag package line 1, line 1, column 9)"
    )
    no_spine = '<package xmlns="http://www.idpf.org/2007/opf"><manifest/></package>'
    assert refused(zip_bytes({"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": no_spine})) == (
        "corrupt EPUB: its package file OEBPS/content.opf has no spine (the order of its chapters)"
    )
    assert refused(book({}, spine=["gone.xhtml"])) == "EPUB with no text: its spine lists no document that is in the book"
    assert refused(book({"a.xhtml": xhtml("<nav><ol><li>Contents</li></ol></nav>")})) == (
        "EPUB with no text once scripts, navigation, headers, footers, forms and hidden elements are left out"
    )
    assert refused(book({"a.xhtml": b"\x01\x02\x03\x04 x " * 100})) == (
        "EPUB with binary data, not XHTML, in its chapter OEBPS/a.xhtml: damaged, or encrypted by DRM; index a DRM-free copy"
    )
    good = book({"a.xhtml": xhtml("<p>Words.</p>" * 50)})
    assert refused(good[: len(good) - 30]).startswith("corrupt or truncated EPUB (BadZipFile: ")


def test_a_decompression_bomb_is_refused_before_it_is_unzipped():
    data = book({"a.xhtml": xhtml("<p>Words.</p>" + " " * (70 * 2**20))})
    assert len(data) < 200_000
    assert refused(data, IngestOptions(max_memory_mb=256)) == (
        "EPUB unzips to 70 MB, more than 1/4 of ingest.max_memory_mb (256 MB): "
        "a decompression bomb, or raise ingest.max_memory_mb to index it"
    )
