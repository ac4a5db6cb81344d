from __future__ import annotations

import random
from pathlib import PurePath

import pytest

import io

import ingest.text
from ingest.clean import clean
from ingest.convert import ConversionError, convert, read_text_file
from tests.corpus import write_bad_files, write_bomb_pdf, write_image_only_pdf, write_pdf


def test_pdf_pages_are_joined_by_form_feeds(tmp_path):
    path = write_pdf(tmp_path / "a.pdf", ["First page text.", "Second page, with a docu-\nment.", "Third."])
    converted = convert(path, path.read_bytes())
    assert converted.pages == 3
    assert converted.text == "First page text.\fSecond page, with a document.\fThird."


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path):
    path = write_pdf(tmp_path / "a.pdf", ["Readable although encrypted."], user_password="")
    assert convert(path, path.read_bytes()).text == "Readable although encrypted."


@pytest.mark.parametrize(
    "name",
    ["encrypted.pdf", "truncated.pdf", "corrupt.pdf", "scanned.pdf", "empty.txt", "blank.md", "binary.txt"],
)
def test_bad_inputs_raise_with_reason(tmp_path, name):
    expected = write_bad_files(tmp_path)
    path = tmp_path / name
    with pytest.raises(ConversionError) as err:
        convert(path, path.read_bytes())
    assert str(err.value).startswith(expected[name])


def test_a_decompression_bomb_is_stopped_by_pypdfs_limits(tmp_path):
    path = write_bomb_pdf(tmp_path / "bomb.pdf")
    assert path.stat().st_size < 400_000
    # How many compressed bytes remain unread depends on the zlib build; the rest is exact.
    with pytest.raises(ConversionError, match=(
        r"^PDF stopped at pypdf's safety limits, damaged or built to exhaust memory "
        r"\(Limit reached while decompressing\. \d+ bytes remaining\.\): "
        r"if it opens in a PDF viewer, rewrite it with `qpdf in\.pdf out\.pdf` and index that$"
    )):
        convert(path, path.read_bytes())


def test_damage_that_trips_pypdfs_limits_or_unsupported_features_is_named(tmp_path):
    good = write_pdf(tmp_path / "a.pdf", ["Hello world page one.", "Page two here."]).read_bytes()
    oversized_xref = good.replace(b"xref\n0 11\n", b"xref\n0 99999\n")
    garbled_filter = good.replace(b"/FlateDecode", b"/FlaLeDecode")
    assert oversized_xref != good and garbled_filter != good
    with pytest.raises(ConversionError) as err:
        convert(PurePath("a.pdf"), oversized_xref)
    assert str(err.value) == (
        "PDF stopped at pypdf's safety limits, damaged or built to exhaust memory "
        "(Declared size 99999 exceeds allowed limit of 68!): "
        "if it opens in a PDF viewer, rewrite it with `qpdf in.pdf out.pdf` and index that"
    )
    with pytest.raises(ConversionError) as err:
        convert(PurePath("a.pdf"), garbled_filter)
    assert str(err.value) == (
        "PDF uses something pypdf cannot read (Unsupported filter /FlaLeDecode): "
        "if it opens in a PDF viewer, export its text (`pdftotext in.pdf out.txt`) and index that"
    )


def test_exact_messages(tmp_path, monkeypatch):
    from ingest import ocr

    path = write_image_only_pdf(tmp_path / "scan.pdf")
    monkeypatch.setattr(ocr, "TESSERACT", "tesseract-not-installed-here")  # as without OCR (tests/test_ocr.py has it with)
    with pytest.raises(ConversionError, match=(
        r"^PDF has no text layer \(scanned\?\) and no OCR engine is installed: install Tesseract "
        r"\(Debian/Ubuntu: `sudo apt-get install tesseract-ocr`, macOS: `brew install tesseract`\), then index it again$"
    )):
        convert(path, path.read_bytes())
    with pytest.raises(ConversionError, match=(
        r"^unsupported file type '\.doc': docqa reads \.pdf, \.txt, \.md, \.docx, \.html, \.htm, \.epub, \.png, \.jpg, \.jpeg, \.tif and \.tiff$"
    )):
        convert(PurePath("x.doc"), b"\xd0\xcf\x11\xe0")


def test_utf8_text_keeps_accents_and_non_latin():
    text = "Floresta Amaz\u00f4nica, Amazon\u00eda y \u4e9a\u9a6c\u900a\u96e8\u6797."
    converted = convert(PurePath("a.md"), text.encode("utf-8"))
    assert (converted.text, converted.pages, converted.warnings) == (text, None, [])


def test_utf8_bom_is_dropped():
    assert convert(PurePath("a.txt"), b"\xef\xbb\xbfHello").text == "Hello"


def test_latin1_is_detected_with_a_warning():
    text = "Caf\u00e9 au lait, na\u00efve fa\u00e7ade, tr\u00e8s bien. \u00c7a co\u00fbte cinq francs. " * 3
    converted = convert(PurePath("a.txt"), text.encode("latin-1"))
    assert converted.text == text.strip()
    assert converted.warnings and converted.warnings[0].startswith("not UTF-8; read as ")


def test_utf16_with_bom():
    text = "Hello UTF-16 world. Unicode \u00e9\u00e8."
    assert convert(PurePath("a.txt"), text.encode("utf-16")).text == text


@pytest.fixture
def small_chunks(monkeypatch):
    # Chunks of a few bytes, so that short texts exercise every boundary of a streamed read.
    # The encoding sample stays long enough for charset detection to tell Latin-1.
    monkeypatch.setattr(ingest.text, "_ENCODING_SAMPLE", 512)
    monkeypatch.setattr(ingest.text, "_CHUNK", 7)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1"])
def test_streamed_text_equals_converted_text(small_chunks, encoding):
    text = "Caf\u00e9 au lait, na\u00efve fa\u00e7ade, tr\u00e8s bien. \u00c7a co\u00fbte cinq francs.\r\n\r\nUn docu-\nment   ici. " * 30
    data = text.encode(encoding)
    warnings: list[str] = []
    streamed = "".join(read_text_file(io.BytesIO(data), warnings))
    converted = convert(PurePath("a.txt"), data)
    assert streamed == converted.text == clean(text)
    assert warnings == converted.warnings


def test_invalid_utf8_after_the_sample_is_replaced_with_a_warning(small_chunks):
    data = ("Valid UTF-8 text, caf\u00e9 and more words to fill the sample. " * 10).encode() + b"bad \xff byte, caf\xc3\xa9."
    warnings: list[str] = []
    text = "".join(read_text_file(io.BytesIO(data), warnings))
    assert text.endswith("bad \ufffd byte, caf\u00e9.")
    assert warnings == ["invalid UTF-8 (invalid start byte); bad bytes read as U+FFFD"]


def test_streamed_binary_and_blank_files_are_refused(small_chunks):
    rng = random.Random(0)
    with pytest.raises(ConversionError, match=r"^binary file, or text in an unknown encoding: save it as UTF-8$"):
        list(read_text_file(io.BytesIO(bytes(rng.randrange(256) for _ in range(4000))), []))
    with pytest.raises(ConversionError, match=r"^binary file, not text: docqa reads \.pdf, \.txt, \.md, \.docx, \.html, \.htm, \.epub, \.png, \.jpg, \.jpeg, \.tif and \.tiff$"):
        list(read_text_file(io.BytesIO(b"\x01\x02\x03\x04 words " * 500), []))
    with pytest.raises(ConversionError, match=r"^empty file \(only whitespace\)$"):
        list(read_text_file(io.BytesIO(b" \n" * 500), []))
    with pytest.raises(ConversionError, match=r"^empty file \(no text after cleaning\)$"):
        list(read_text_file(io.BytesIO(b"\x01 \x02 \xc2\xad \x03"), []))


def test_a_file_named_pdf_that_is_no_pdf_is_said_to_be_no_pdf():
    with pytest.raises(ConversionError, match=r"^not a PDF \(no %PDF- header at its start\): another kind of file named \.pdf"):
        convert(PurePath("photo.pdf"), b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(ConversionError, match=r"^corrupt or truncated PDF"):
        convert(PurePath("broken.pdf"), b"%PDF-1.4 garbage")
