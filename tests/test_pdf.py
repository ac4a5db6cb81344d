"""The PDF text layer read like the page: columns in order, words apart, no running heads or
page numbers, footnotes after the body, hyphenation undone, symbols of CFF fonts right."""

from __future__ import annotations

import dataclasses
import io
import logging
import random
import time

import pytest

from ingest.convert import convert
from ingest.furniture import furniture, is_page_number, keep_compound_hyphens
from ingest.indexer import index_paths
from ingest.split import split_text
from tests.corpus import WORDS, write_image_only_pdf
from tests.pdf_pages import Run, write_pdf_bytes, write_runs_pdf, content

HEAD = "Proceedings of the Test Workshop \u2014 Harbor Signals"
LEFT, RIGHT, TOP, PITCH, ROWS = 72, 320, 700, 14, 10


def _column_lines(rng: random.Random, marker: str) -> list[str]:
    """ROWS lines of five words; the first names the column, so order can be checked by eye."""
    lines = []
    for row in range(ROWS):
        words = [rng.choice(WORDS) for _ in range(5)]
        if row == 0:
            words[0] = marker
        lines.append(" ".join(words))
    return lines


def _paper(tmp_path, pages: int = 3):
    """A two-column paper written row by row across the page (left line, right line, ...),
    every other line set tight (kerning, no spaces); running head and number from page 2 on,
    a centred number at the foot of page 1, a footnote with its mark in the left column of page 1.
    Returns the file and, per page, its body lines in reading order and its footnotes."""
    rng = random.Random(7)
    runs_by_page, expected = [], []
    for page in range(1, pages + 1):
        left, right = _column_lines(rng, f"left{page}"), _column_lines(rng, f"right{page}")
        notes = []
        runs = []
        if page == 1:
            left[3] = "under the old river.{1} Then the"
            left[5] = "the harbor signal docu-"
            left[6] = "ment was signed at noon"
            runs.append(Run(250, 750, "Harbor Signals", 16))
            runs.append(Run(303, 40, "1", 9))
            runs.append(Run(LEFT, 90, "{1}The bridge was rebuilt in stone.", 8))
            notes.append("1 The bridge was rebuilt in stone.")
        else:
            runs.append(Run(LEFT, 760, HEAD, 9))
            runs.append(Run(530, 760, str(page), 9))
        for row in range(ROWS):
            y = TOP - PITCH * row
            runs.append(Run(LEFT, y, left[row], tight=row % 2 == 1))
            runs.append(Run(RIGHT, y, right[row], tight=row % 2 == 0))
        body = ["Harbor Signals"] if page == 1 else []
        body += [" ".join(left).replace("{1}", "").replace("docu- ment", "document"), " ".join(right)]
        runs_by_page.append(runs)
        expected.append("\n\n".join(body + notes))
    return write_runs_pdf(tmp_path / "paper.pdf", runs_by_page), expected


def test_two_columns_read_column_by_column_words_apart_without_heads_numbers_or_footnote_in_the_sentence(tmp_path):
    path, expected = _paper(tmp_path)
    converted = convert(path, path.read_bytes())
    assert converted.pages == 3
    assert converted.text.split("\f") == expected
    # What the page says: the mark out of the sentence, the hyphenated word whole.
    assert "under the old river. Then the" in expected[0] and "the harbor signal document was signed at noon" in expected[0]


def test_the_tight_lines_are_the_ones_pypdf_reads_without_spaces(tmp_path):
    # The test above would pass with any extractor if the file had no merged words to give.
    from pypdf import PdfReader

    path, _ = _paper(tmp_path, pages=1)
    assert "harborsignaldocu" in PdfReader(path).pages[0].extract_text().replace("-", "")


def test_no_passage_holds_the_running_head_or_a_page_number_and_offsets_are_exact(tmp_path, store, options):
    path, expected = _paper(tmp_path)
    index_paths(store, [path], options, show_progress=False)
    passages = store.filter_documents()
    text = convert(path, path.read_bytes()).text
    assert passages and all("Proceedings" not in p.content and "Workshop" not in p.content for p in passages)
    for p in passages:
        start = p.meta["split_idx_start"]
        assert text[start:start + len(p.content)] == p.content
    words = text.split()
    assert "2" not in words and "3" not in words and words.count("1") == 1  # the footnote's mark, at its note
    assert [s.text for s in split_text(text, options.split_length, options.split_overlap)] == [p.content for p in passages]


def test_a_footnote_follows_the_body_of_its_page_as_its_own_paragraph(tmp_path):
    path, _ = _paper(tmp_path, pages=1)
    text = convert(path, path.read_bytes()).text
    body, note = text.rsplit("\n\n", 1)
    assert note == "1 The bridge was rebuilt in stone."
    assert "river. Then" in body and "bridge" not in body


def test_running_heads_and_page_numbers_of_ocr_pages_are_left_out_too(tmp_path, monkeypatch):
    import ingest.ocr

    path = write_image_only_pdf(tmp_path / "scan.pdf", pages=3)
    read = {
        0: "Harbor Signals\nThe first page tells of the river.\n1",
        1: "Proceedings of the Test Workshop 2\nThe second page tells of the bridge.\n2",
        2: "Proceedings of the Test Workshop 3\nThe third page tells of the signal-\nman at the gate.\n3",
    }
    monkeypatch.setattr(ingest.ocr, "ocr_pdf_pages", lambda data, pages, options, warnings, has_text: {i: read[i] for i in pages})
    assert convert(path, path.read_bytes()).text.split("\f") == [
        "Harbor Signals The first page tells of the river.",
        "The second page tells of the bridge.",
        "The third page tells of the signalman at the gate.",
    ]


def test_furniture_is_what_repeats_at_the_same_edge_numbers_aside():
    pages = [(["Title of it", "First line"], ["1"]), (["Journal 12 (2020)", "Body"], ["Footer text", "2"]),
             (["Journal 12 (2020)", "More body"], ["Footer text", "x3"])]
    # The head repeats at the top of two of three pages, the footer at the bottom; "1" and "2"
    # are their pages' numbers, "x3" is not a number.
    assert furniture(pages) == [(set(), {0}), ({0}, {0, 1}), ({0}, {0})]
    assert is_page_number("Page 4 of 9", 4) and is_page_number("- iv -", 4) and not is_page_number("1990", 4)
    # A table's row of figures repeated at the top of pages is no running head.
    assert furniture([(["12 40 33"], []), (["12 40 33"], []), (["12 40 33"], [])]) == [(set(), set())] * 3


def test_a_line_alone_on_its_page_is_the_pages_text_not_its_running_head(tmp_path):
    path = write_runs_pdf(tmp_path / "labels.pdf", [[Run(LEFT, 700, "Background")] for _ in range(4)])
    assert convert(path, path.read_bytes()).text == "\f".join(["Background"] * 4)


def test_line_end_hyphens_of_compounds_stay_others_go_to_clean():
    pages = ["a family-\noriented show, a docu-\nment", "family and oriented, sea-\nwater, seawater"]
    assert keep_compound_hyphens(pages) == ["a family-oriented show, a docu-\nment", "family and oriented, sea-\nwater, seawater"]


def test_a_word_hyphenated_across_a_page_break_is_whole_on_its_first_page(tmp_path):
    runs = [[Run(LEFT, 700, "words on the page before"), Run(LEFT, 686, "the radio sta-")], [Run(LEFT, 700, "tion, on the air")]]
    path = write_runs_pdf(tmp_path / "break.pdf", runs)
    converted = convert(path, path.read_bytes())
    assert converted.text == "words on the page before the radio station,\fon the air"
    # Its rest, "tion,", is printed on page 2: the answers holding it name page 2 too.
    assert converted.next_page_spans == [(38, 43)] and converted.text[38:43] == "tion,"


def test_repeated_warnings_are_summarised_once_per_file_and_shown_all_with_verbose(tmp_path, store, options, caplog):
    # Damaged: page dictionaries with a key twice, the cross-reference offsets off; pypdf
    # reads it, warning about every page dictionary, twice.
    data = write_pdf_bytes([content([Run(72, 700, f"page {i} text")]) for i in range(3)])
    path = tmp_path / "damaged.pdf"
    path.write_bytes(data.replace(b"<< /Type /Page /Parent", b"<< /Type /Page /Type /Page /Parent"))
    with caplog.at_level(logging.WARNING, logger="ingest.indexer"):
        index_paths(store, [path], options, show_progress=False)
    assert [r.getMessage() for r in caplog.records if r.name == "ingest.indexer"] == [
        f"{path}: incorrect startxref pointer(1)",
        f"{path}: parsing for Object Streams",
        f"{path}: 6 warnings like: Multiple definitions in dictionary at byte 0x4b5 for key /Type (-v shows them all)",
    ]
    caplog.clear()
    store.remove_files([str(path)])
    with caplog.at_level(logging.INFO, logger="ingest.indexer"):
        index_paths(store, [path], options, show_progress=False)
    assert sum("Multiple definitions" in r.getMessage() for r in caplog.records if r.name == "ingest.indexer") == 6


def test_a_file_pdfium_cannot_open_is_read_by_pypdf_with_a_warning(tmp_path, monkeypatch):
    import pypdfium2

    def refuse(*args, **kwargs):
        raise pypdfium2.PdfiumError("Failed to load document (PDFium: Data format error).")

    monkeypatch.setattr(pypdfium2, "PdfDocument", refuse)
    path = write_runs_pdf(tmp_path / "a.pdf", [[Run(LEFT, 700, "First page text.")], [Run(LEFT, 700, "Second page.")]])
    converted = convert(path, path.read_bytes())
    assert converted.text == "First page text.\fSecond page."
    assert converted.warnings == ["pdfium cannot open it (Failed to load document (PDFium: Data format error).); its text was read by pypdf"]


def test_a_slow_page_is_stopped_by_the_time_limit():
    # 100,000 text objects on one page: 1 to 2.5 s to convert here, far past the limit. The alarm of
    # ingest.timeout_s interrupts Python, not C: pdfium parses the page (about 1.5 s of it, in
    # proportion to the page's content stream, which pypdf's decompression limit bounds) before
    # the conversion stops.
    from ingest.options import IngestOptions
    from ingest.worker import convert_data

    stream = b"\n".join(b"BT /F1 1 Tf %d %d Td (ab) Tj ET" % (i % 600, (i // 600) % 790) for i in range(100_000))
    options = dataclasses.replace(IngestOptions(), timeout_s=0.05)
    started = time.perf_counter()
    parsed = convert_data("slow.pdf", write_pdf_bytes([stream]), 0.0, options)
    assert parsed.error == "conversion took longer than 0.05 s (ingest.timeout_s)"
    assert time.perf_counter() - started < 10


# --- CFF fonts: the text depends on reading the font's own encoding -------------------------

def _cff_font_pdf() -> bytes:
    """A PDF whose font is a CFF (Type1C) font with a custom encoding and no ToUnicode: byte 8
    is the glyph `universal` (U+2200), 9 `existential` (U+2203), letters and signs as themselves."""
    from fontTools.cffLib import CFFFontSet
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen

    text = "Quantoren (8, 9)"
    codes = {ch: ch for ch in set(text) if ch not in "89 "}
    names = {"8": "universal", "9": "existential", " ": "space", "(": "parenleft", ")": "parenright", ",": "comma"}
    glyphs = [".notdef"] + sorted({names.get(ch, ch) for ch in text})
    charstrings = {}
    for glyph in glyphs:
        pen = T2CharStringPen(500, None)
        if glyph not in (".notdef", "space"):
            pen.moveTo((50, 0)); pen.lineTo((450, 0)); pen.lineTo((250, 700)); pen.closePath()
        charstrings[glyph] = pen.getCharString()
    builder = FontBuilder(1000, isTTF=False)
    builder.setupGlyphOrder(glyphs)
    builder.setupCharacterMap({})
    builder.setupCFF("QuantFont", {"FullName": "QuantFont"}, charstrings, {})
    builder.setupHorizontalMetrics({g: (500 if g != "space" else 250, 0) for g in glyphs})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupOS2()
    builder.setupPost()
    cff = builder.font["CFF "].cff
    encoding = [".notdef"] * 256
    for ch in text:
        encoding[ord(ch)] = names.get(ch, ch)
    cff.topDictIndex[0].Encoding = encoding
    raw = io.BytesIO()
    cff.compile(raw, builder.font)
    del codes
    font_file = raw.getvalue()
    widths = b" ".join(b"%d" % (250 if code == 32 else 500) for code in range(32, 128))
    font = (b"<< /Type /Font /Subtype /Type1 /BaseFont /QuantFont /FirstChar 32 /LastChar 127 /Widths [" + widths
            + b"] /FontDescriptor 6 0 R >>")
    descriptor = b"<< /Type /FontDescriptor /FontName /QuantFont /Flags 4 /FontBBox [0 -200 1000 800] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 /FontFile3 7 0 R >>"
    stream = b"<< /Subtype /Type1C /Length %d >>\nstream\n" % len(font_file) + font_file + b"\nendstream"
    return write_pdf_bytes([content([Run(72, 700, text, 12)])], font=font, extra=[descriptor, stream])


def test_a_symbol_of_a_cff_font_without_tounicode_is_read_right(tmp_path, caplog):
    data = _cff_font_pdf()
    path = tmp_path / "quantoren.pdf"
    path.write_bytes(data)
    with caplog.at_level(logging.WARNING):
        converted = convert(path, data)
    assert converted.text == "Quantoren (\u2200, \u2203)"
    assert converted.warnings == []


def test_pypdf_reads_the_cff_encoding_too_with_fonttools_installed(tmp_path):
    # pypdf reads the pages pdfium cannot: it needs fontTools for this font (a dependency of docqa).
    from pypdf import PdfReader

    import fontTools  # noqa: F401  (installed with docqa, not only with the test extra)

    assert PdfReader(io.BytesIO(_cff_font_pdf())).pages[0].extract_text() == "Quantoren (\u2200, \u2203)"
