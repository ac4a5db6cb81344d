"""OCR of scanned PDF pages (ingest/ocr.py): files made here — fpdf2 writes text PDFs, pypdfium2
renders them, Pillow writes the renders as image-only PDFs (scans).

Tests that read pages need Tesseract and are skipped, with the reason, without it; the
reports for a missing engine are tested everywhere, with the engine's command renamed.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import ocr
from ingest.convert import ConversionError, convert
from ingest.indexer import index_paths
from ingest.ocr import PageText, parse_tsv, read_image
from ingest.options import IngestOptions, OcrOptions

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="Tesseract is not installed (sudo apt-get install tesseract-ocr tesseract-ocr-eng)"
)

PAGE_ONE = "The Kestrel locomotive was delivered by sea from Glasgow in 1872."
PAGE_TWO = "The harbor railway closed in 1931 when the new road bridge opened."
INSTALL = "install Tesseract (Debian/Ubuntu: `sudo apt-get install tesseract-ocr`, macOS: `brew install tesseract`), then index it again"


def text_pdf(*pages: str) -> bytes:
    """A PDF with a text layer, one page per string."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=14)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def page_images(pdf: bytes, dpi: int = 200) -> list:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    return [doc[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(doc))]


def scanned_pdf(*pages: str, dpi: int = 200) -> bytes:
    """An image-only PDF of the pages, as a scanner writes it (no text layer)."""
    images = page_images(text_pdf(*pages), dpi)
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()


def mixed_pdf(text_page: str, scanned_page: str) -> bytes:
    """Page 1 with a text layer, page 2 a scan (an image) of `scanned_page`."""
    from fpdf import FPDF

    image = page_images(text_pdf(scanned_page))[0]
    png = io.BytesIO()
    image.save(png, "PNG")
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=14)
    pdf.add_page()
    pdf.multi_cell(0, 8, text_page)
    pdf.add_page()
    pdf.image(png, x=0, y=0, w=pdf.w, h=pdf.h)
    return bytes(pdf.output())


@pytest.fixture
def no_tesseract(monkeypatch):
    """Tesseract as absent: its command renamed to one that is on no PATH."""
    monkeypatch.setattr(ocr, "TESSERACT", "tesseract-not-installed-here")


# The reports when OCR cannot run: everywhere, whether Tesseract is installed or not.


def test_scanned_pdf_without_engine_names_the_install_command(no_tesseract):
    with pytest.raises(ConversionError) as err:
        convert(Path("scan.pdf"), scanned_pdf(PAGE_ONE))
    assert str(err.value) == f"PDF has no text layer (scanned?) and no OCR engine is installed: {INSTALL}"


def test_mixed_pdf_without_engine_keeps_its_text_page_and_names_the_page_left_out(no_tesseract):
    converted = convert(Path("mixed.pdf"), mixed_pdf(PAGE_ONE, PAGE_TWO))
    assert converted.text == PAGE_ONE + "\f"
    assert converted.pages == 2
    assert converted.warnings == [f"page 2 without a text layer left out: no OCR engine is installed: {INSTALL}"]


def test_pages_left_out_are_counted_and_named():
    warnings: list[str] = []
    options = IngestOptions(ocr=OcrOptions(enabled=False))
    assert ocr.ocr_pdf_pages(b"", list(range(1, 15)), options, warnings, True) == {}
    assert warnings == [
        "14 pages (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, and 4 more) without a text layer left out: "
        "OCR is off (ingest.ocr.enabled: false): set it to true to read scanned pages"
    ]


def test_ocr_off_is_reported_as_such():
    with pytest.raises(ConversionError) as err:
        convert(Path("scan.pdf"), scanned_pdf(PAGE_ONE), IngestOptions(ocr=OcrOptions(enabled=False)))
    assert str(err.value) == "PDF has no text layer (scanned?) and OCR is off (ingest.ocr.enabled: false): set it to true to read scanned pages"


def test_scanned_pdf_without_engine_is_a_failure_in_the_index_report(tmp_path, store, no_tesseract):
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf(PAGE_ONE))
    report = index_paths(store, [tmp_path], IngestOptions(workers=0), show_progress=False)
    assert (report.indexed, report.failed) == (0, 1)
    assert report.failures[0].error == f"PDF has no text layer (scanned?) and no OCR engine is installed: {INSTALL}"


@needs_tesseract
def test_files_read_without_ocr_are_read_again_once_it_is_installed(tmp_path, store, monkeypatch):
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf(PAGE_ONE))
    (tmp_path / "mixed.pdf").write_bytes(mixed_pdf(PAGE_ONE, PAGE_TWO))
    (tmp_path / "notes.txt").write_text("Not about OCR.", encoding="utf-8")
    options = IngestOptions(workers=0, split_length=12, split_overlap=0)
    monkeypatch.setattr(ocr, "TESSERACT", "tesseract-not-installed-here")
    report = index_paths(store, [tmp_path], options, show_progress=False)
    assert (report.indexed, report.failed) == (2, 1)
    assert index_paths(store, [tmp_path], options, show_progress=False).unchanged == 1  # the text file only
    monkeypatch.setattr(ocr, "TESSERACT", "tesseract")  # installed
    report = index_paths(store, [tmp_path], options, show_progress=False)
    assert (report.indexed, report.unchanged, report.failed) == (2, 1, 0)
    pages = sorted((d.meta["file_path"].rsplit("/", 1)[1], d.content, d.meta["page_number"]) for d in store.filter_documents())
    assert pages == [("mixed.pdf", PAGE_ONE, 1), ("mixed.pdf", PAGE_TWO, 2), ("notes.txt", "Not about OCR.", None), ("scan.pdf", PAGE_ONE, 1)]
    assert index_paths(store, [tmp_path], options, show_progress=False).unchanged == 3


def test_an_engine_that_does_not_run_is_named(tmp_path, monkeypatch):
    broken = tmp_path / "tesseract"
    broken.write_text("#!/bin/sh\necho 'error while loading shared libraries: libtesseract.so.5' >&2\nexit 127\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert ocr.unavailable(OcrOptions()) == (
        f"the OCR engine at {broken} does not run (`tesseract --list-langs` fails): reinstall Tesseract "
        "(Debian/Ubuntu: `sudo apt-get install tesseract-ocr`, macOS: `brew install tesseract`)"
    )


@needs_tesseract
def test_missing_language_names_its_package():
    installed = ", ".join(sorted(ocr._languages(shutil.which("tesseract"))))
    assert ocr.unavailable(OcrOptions(languages="eng+xyz_frak")) == (
        f"Tesseract has no data for xyz_frak (ingest.ocr.languages: eng+xyz_frak; it has {installed}): install it "
        "(Debian/Ubuntu: `sudo apt-get install tesseract-ocr-xyz-frak`, macOS: `brew install tesseract-lang`)"
    )


@pytest.mark.parametrize(
    "values, message",
    [
        ({"languages": "eng deu"}, "languages must be Tesseract language names joined by + (eng, eng+deu), got 'eng deu'"),
        ({"languages": ""}, "languages must be Tesseract language names joined by + (eng, eng+deu), got ''"),
        ({"dpi": 50}, "dpi must be between 70 and 1200, got 50"),
        ({"page_timeout_s": 0.0}, "page_timeout_s must be > 0, got 0.0"),
    ],
)
def test_options_are_checked(values, message):
    with pytest.raises(ValueError) as err:
        OcrOptions(**values)
    assert str(err.value) == message


def test_tsv_becomes_lines_and_paragraphs_with_mean_confidence():
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",
        "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96.5\tThe",
        "5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t90.5\tharbor",
        "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t93\trailway",
        "5\t1\t1\t1\t2\t2\t0\t0\t1\t1\t95\t ",
        "4\t1\t2\t1\t1\t0\t0\t0\t1\t1\t-1\t",
        "5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t40\tclosed.",
    ]
    assert parse_tsv("\n".join([header, *rows])) == PageText("The harbor\nrailway\n\nclosed.", 80.0)
    assert parse_tsv(header + "\n") == PageText("", None)


# Reading pages: only with Tesseract installed.


@needs_tesseract
def test_scanned_pdf_is_read_page_by_page():
    converted = convert(Path("scan.pdf"), scanned_pdf(PAGE_ONE, PAGE_TWO))
    assert converted.pages == 2 and converted.warnings == []
    assert converted.text == PAGE_ONE + "\f" + PAGE_TWO


@needs_tesseract
def test_a_pdf_without_text_whose_pages_hold_no_words_is_reported(tmp_path):
    from tests.corpus import write_image_only_pdf  # filled rectangles, no text

    path = write_image_only_pdf(tmp_path / "drawings.pdf", pages=3)
    with pytest.raises(ConversionError) as err:
        convert(path, path.read_bytes())
    assert str(err.value) == "PDF has no text layer (scanned?) and OCR found no words on its 3 pages (1, 2, 3)"


def test_blank_pages_are_not_sent_to_ocr(monkeypatch):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=14)
    pdf.add_page()
    pdf.cell(0, 10, PAGE_ONE)
    pdf.add_page()  # left blank
    monkeypatch.setattr(ocr, "unavailable", lambda options: None)
    monkeypatch.setattr(ocr, "read_image", lambda *a, **k: pytest.fail("OCR ran on a blank page"))
    converted = convert(Path("blank-page.pdf"), bytes(pdf.output()))
    assert (converted.text, converted.pages, converted.warnings) == (PAGE_ONE + "\f", 2, [])


@needs_tesseract
def test_mixed_pdf_keeps_its_text_page_and_reads_the_scanned_one():
    converted = convert(Path("mixed.pdf"), mixed_pdf(PAGE_ONE, PAGE_TWO))
    assert converted.text == PAGE_ONE + "\f" + PAGE_TWO
    assert converted.pages == 2 and converted.warnings == []


@needs_tesseract
def test_mixed_pdf_is_indexed_with_the_right_page_numbers(tmp_path, store):
    (tmp_path / "mixed.pdf").write_bytes(mixed_pdf(PAGE_ONE, PAGE_TWO))
    report = index_paths(store, [tmp_path], IngestOptions(workers=0, split_length=12, split_overlap=0), show_progress=False)
    assert (report.indexed, report.failed) == (1, 0)
    passages = sorted(store.filter_documents(), key=lambda d: d.meta["split_id"])
    assert [(d.content, d.meta["page_number"]) for d in passages] == [(PAGE_ONE, 1), (PAGE_TWO, 2)]


@needs_tesseract
def test_scans_are_read_in_worker_processes_under_the_memory_limit(tmp_path, store):
    # Two files, two workers: each converted in a spawned worker under RLIMIT_AS 2048 MB,
    # which the tesseract child process inherits.
    (tmp_path / "a.pdf").write_bytes(scanned_pdf(PAGE_ONE))
    (tmp_path / "b.pdf").write_bytes(scanned_pdf(PAGE_TWO))
    report = index_paths(store, [tmp_path], IngestOptions(workers=2, max_memory_mb=2048), show_progress=False)
    assert (report.indexed, report.failed) == (2, 0), report.failures
    assert sorted(d.content for d in store.filter_documents()) == sorted([PAGE_ONE, PAGE_TWO])


@needs_tesseract
def test_a_page_as_large_as_ocr_reads_is_read_under_the_default_memory_limit(tmp_path):
    # A4 at 600 dpi, MAX_PIXELS, mostly blank (a full page of text takes some 14 s), in a
    # child process under the workers' default address-space limit.
    import subprocess
    import sys

    script = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (2048 << 20, 2048 << 20))\n"
        "from PIL import Image, ImageDraw, ImageFont\n"
        "from ingest.ocr import MAX_PIXELS, read_image; from ingest.options import OcrOptions\n"
        "image = Image.new('L', (4961, 7016), 255); assert image.size[0] * image.size[1] == MAX_PIXELS\n"
        "ImageDraw.Draw(image).text((600, 600), 'Harbor railway', fill=0, font_size=120)\n"
        "print(read_image(image, OcrOptions(), dpi=600).text)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Harbor railway\n"


def test_an_image_larger_than_ocr_reads_is_refused_before_reading():
    from PIL import Image

    with pytest.raises(ConversionError) as err:
        read_image(Image.new("L", (5000, 7100), 255), OcrOptions())
    assert str(err.value) == (
        "image of 5000 x 7100 pixels (36 megapixels) is larger than OCR reads (at most 35 megapixels, an A4 page at 600 dpi): "
        "scale it down (e.g. `convert in.png -resize 50% out.png`) and index that"
    )


def test_a_huge_pdf_page_is_rendered_at_a_lower_dpi_within_the_pixel_limit():
    import pypdfium2 as pdfium

    from fpdf import FPDF

    pdf = FPDF(format=(2000, 2000))  # mm: a 2 m square poster
    pdf.add_page()
    pdf.set_font("Helvetica", size=400)
    pdf.text(100, 400, "Harbor")
    doc = pdfium.PdfDocument(bytes(pdf.output()))
    image, dpi = ocr._render(doc, 0, 300)
    doc.close()
    # (35 megapixels / (78.74 in)^2)^0.5 = 74.9 dpi: 5827 pixels a side.
    assert (dpi, image.size) == (74, (5827, 5827)) and 5827**2 <= ocr.MAX_PIXELS


def test_a_scan_is_rendered_at_its_own_resolution():
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(scanned_pdf(PAGE_ONE, dpi=150))
    assert ocr._render(doc, 0, 300)[1] == 200  # upsampled to MIN_SCAN_DPI
    doc = pdfium.PdfDocument(scanned_pdf(PAGE_ONE, dpi=240))
    assert ocr._render(doc, 0, 300)[1] == 240
    doc = pdfium.PdfDocument(scanned_pdf(PAGE_ONE, dpi=400))
    assert ocr._render(doc, 0, 300)[1] == 300  # at most ingest.ocr.dpi
    doc = pdfium.PdfDocument(text_pdf(PAGE_ONE))
    assert ocr._render(doc, 0, 300)[1] == 300  # not a scan: ingest.ocr.dpi


@needs_tesseract
def test_a_page_past_its_wall_time_limit_is_left_out_with_the_reason(monkeypatch):
    monkeypatch.setattr(ocr, "_left", lambda started, seconds: 0.0)  # no time left for any page
    options = IngestOptions(ocr=OcrOptions(page_timeout_s=5.0))
    converted = convert(Path("mixed.pdf"), mixed_pdf(PAGE_ONE, PAGE_TWO), options)
    assert converted.text == PAGE_ONE + "\f"
    said = "OCR took longer than 0 s of wall time (10 x ingest.ocr.page_timeout_s): Tesseract hung, or the machine is overloaded"
    assert converted.warnings == [f"page 2: {said}; the page is left out"]
    with pytest.raises(ConversionError) as err:
        convert(Path("scan.pdf"), scanned_pdf(PAGE_ONE), options)
    assert str(err.value) == f"PDF has no text layer (scanned?) and OCR could not read it: page 1: {said}"


@needs_tesseract
@pytest.mark.skipif(not hasattr(__import__("resource"), "prlimit"), reason="RLIMIT_CPU of a child is set with prlimit (Linux)")
def test_a_page_past_its_cpu_time_limit_is_stopped():
    # A page dense with words at 600 dpi takes Tesseract well over a CPU-second.
    image = page_images(text_pdf(" ".join([PAGE_ONE, PAGE_TWO] * 25)), dpi=600)[0]
    with pytest.raises(ConversionError) as err:
        read_image(image, OcrOptions(page_timeout_s=1.0), dpi=600)
    assert str(err.value) == "OCR took more than 1 s of CPU time (ingest.ocr.page_timeout_s)"


@needs_tesseract
def test_ocr_time_is_not_charged_to_the_files_time_limit(tmp_path, store):
    # Three scanned pages, each some seconds of OCR, under a file limit shorter than all three.
    (tmp_path / "long.pdf").write_bytes(scanned_pdf(PAGE_ONE, PAGE_TWO, PAGE_ONE))
    report = index_paths(store, [tmp_path], IngestOptions(workers=0, timeout_s=1.0), show_progress=False)
    assert (report.indexed, report.failed) == (1, 0), report.failures


@needs_tesseract
def test_progress_is_logged_every_few_pages(monkeypatch, caplog):
    monkeypatch.setattr(ocr, "PROGRESS_EVERY", 1)
    with caplog.at_level("INFO", logger="ingest.ocr"):
        convert(Path("scan.pdf"), scanned_pdf(PAGE_ONE, PAGE_TWO))
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["OCR: 1 of 2 scanned pages read"]


@needs_tesseract
def test_a_scanned_page_is_answered(tmp_path, tiny_model):
    # The tiny model's weights are random: the test checks the way from the scan to an answer
    # (file, page, passage text read by OCR), not the answer's quality.
    from pipeline.cli import cli

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "mixed.pdf").write_bytes(mixed_pdf(PAGE_ONE, PAGE_TWO))
    config = tmp_path / "docqa.yaml"
    # Passages of 12 words: one a page (an answer's page is its passage's first page).
    config.write_text(f"store:\n  path: {tmp_path / 'i.db'}\ningest:\n  split_length: 12\n  split_overlap: 0\nreader:\n  model: {tiny_model}\nask:\n  min_score: 0.0\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["index", str(docs), "--config", str(config), "--workers", "0"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["ask", "When did the harbor railway close?", "--config", str(config), "--json", "--top-k", "1", "--retrieve-k", "1"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)["answers"][0]
    assert (answer["file"], answer["page"], answer["context"]) == (str(docs / "mixed.pdf"), 2, PAGE_TWO)
