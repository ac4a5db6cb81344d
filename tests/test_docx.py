from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

import pytest

from ingest.archive import OLE_MAGIC
from ingest.convert import ConversionError, convert
from ingest.options import IngestOptions
from ingest.split import split_text
from tests.formats import DOCX_TEXT, write_docx, zip_bytes


def refused(data: bytes, options: IngestOptions = IngestOptions()) -> str:
    with pytest.raises(ConversionError) as err:
        convert(PurePath("report.docx"), data, options)
    return str(err.value)


def test_body_in_document_order_without_header_footer_and_comments(tmp_path):
    path = write_docx(tmp_path / "railway.docx")
    converted = convert(path, path.read_bytes())
    assert (converted.text, converted.pages, converted.warnings) == (DOCX_TEXT, None, [])
    for left_out in ("CONFIDENTIAL", "running header", "Page footer", "Check this date", "daily"):
        assert left_out not in converted.text
    assert converted.text.count("Map of the harbor") == 1  # Word's legacy copy of the text box is not read


def test_footnotes_follow_the_body_each_a_paragraph(tmp_path):
    path = write_docx(tmp_path / "notes.docx", footnotes=["Opened by the mayor.", "See the 1890 map."])
    text = convert(path, path.read_bytes()).text
    assert text == DOCX_TEXT + "\n\nOpened by the mayor.\n\nSee the 1890 map."
    # The sentence that refers to them is whole.
    assert "to the docks.\n\nStations" in text


def test_offsets_of_passages_and_of_a_known_sentence_are_exact(tmp_path):
    path = write_docx(tmp_path / "railway.docx")
    text = convert(path, path.read_bytes()).text
    sentence = "The line closed in 1961, after the docks were rebuilt."
    assert text.index(sentence) == 234
    assert text[234 : 234 + len(sentence)] == sentence
    splits = split_text(text, 10, 2)
    assert [s.start for s in splits] == [0, 52, 91, 137, 181, 215, 253, 301, 331]
    assert all(text[s.start : s.start + len(s.text)] == s.text for s in splits)


def test_a_file_that_is_no_zip_or_a_damaged_one_is_named(tmp_path):
    assert refused(b"Just some text saved with the wrong name.") == "not a DOCX (not a zip archive): another kind of file named .docx"
    good = write_docx(tmp_path / "a.docx").read_bytes()
    assert refused(good[: len(good) // 2]) == (
        "corrupt or truncated DOCX (BadZipFile: File is not a zip file): if it opens, save it again and index the copy"
    )
    assert refused(zip_bytes({"notes.txt": "hello"})) == (
        "not a DOCX (a zip archive without a Word document in it): another kind of file named .docx"
    )
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(broken, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info, data[:200] if info.filename == "word/document.xml" else data)
    assert refused(broken.getvalue()).startswith("corrupt DOCX (XMLSyntaxError: ")
    assert refused(broken.getvalue()).endswith("): if Word opens it, save it again and index the copy")


def test_password_protected_and_old_binary_word_files_are_named_with_the_fix():
    # Both are OLE compound files; the name of their main stream tells them apart.
    encrypted = OLE_MAGIC + bytes(504) + "EncryptedInfo".encode("utf-16-le") + bytes(8) + "EncryptedPackage".encode("utf-16-le")
    assert refused(encrypted) == "password-protected DOCX: save a copy without the password (Word: File > Info > Protect Document) and index that"
    old = OLE_MAGIC + bytes(504) + "WordDocument".encode("utf-16-le") + bytes(64)
    assert refused(old) == (
        "an old Word .doc file named .docx: save it as .docx (Word: Save As; or "
        "`libreoffice --headless --convert-to docx FILE`) and index that"
    )
    assert refused(OLE_MAGIC + bytes(504) + "Workbook".encode("utf-16-le")) == (
        "an Office binary (OLE) file, not a DOCX: save it as .docx and index that"
    )


def test_a_document_without_text_is_refused(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("")
    document.add_table(rows=2, cols=2)
    document.sections[0].header.paragraphs[0].text = "Only the header has words"
    document.save(str(tmp_path / "empty.docx"))
    assert refused((tmp_path / "empty.docx").read_bytes()) == "DOCX with no text: nothing in its body, tables, text boxes or notes"


def test_a_decompression_bomb_is_refused_before_it_is_unzipped(tmp_path):
    good = write_docx(tmp_path / "a.docx").read_bytes()
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("word/media/image1.bmp", bytes(70 * 2**20))
    assert len(bomb.getvalue()) < 200_000
    assert refused(bomb.getvalue(), IngestOptions(max_memory_mb=256)) == (
        "DOCX unzips to 71 MB, more than 1/4 of ingest.max_memory_mb (256 MB): "
        "a decompression bomb, or raise ingest.max_memory_mb to index it"
    )
    assert "Harbor Railway" in convert(PurePath("a.docx"), bomb.getvalue(), IngestOptions(max_memory_mb=1024)).text


def test_an_equation_is_read_as_its_characters(tmp_path):
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    paragraph = document.add_paragraph("Energy: ")
    paragraph._p.append(parse_xml(
        '<m:oMath xmlns:m="http://schemas.openxmlformats.org/officeDocument/2006/math"><m:r><m:t>E=m</m:t></m:r>'
        "<m:sSup><m:e><m:r><m:t>c</m:t></m:r></m:e><m:sup><m:r><m:t>2</m:t></m:r></m:sup></m:sSup></m:oMath>"
    ))
    document.save(str(tmp_path / "math.docx"))
    assert convert(PurePath("math.docx"), (tmp_path / "math.docx").read_bytes()).text == "Energy: E=mc2"


def test_damaged_footnotes_leave_the_body_readable(tmp_path):
    good = write_docx(tmp_path / "a.docx", footnotes=["A note."]).read_bytes()
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(damaged, "w") as out:
        for info in src.infolist():
            out.writestr(info, b"<w:footnotes" if info.filename == "word/footnotes.xml" else src.read(info))
    converted = convert(PurePath("a.docx"), damaged.getvalue())
    assert converted.text == DOCX_TEXT
    assert len(converted.warnings) == 1 and converted.warnings[0].startswith("footnotes left out: their part is damaged (XMLSyntaxError: ")
