"""Image files read by OCR (ingest/image.py): PNG, JPEG and TIFF made here from rendered text pages."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ingest import ocr
from ingest.convert import ConversionError, convert
from ingest.indexer import index_paths
from ingest.options import IngestOptions
from tests.test_ocr import INSTALL, PAGE_ONE, PAGE_TWO, needs_tesseract, page_images, text_pdf


def image_file(kind: str, *pages: str, dpi: int = 200, **save: object) -> bytes:
    images = page_images(text_pdf(*pages), dpi)
    out = io.BytesIO()
    images[0].save(out, kind, dpi=(dpi, dpi), save_all=len(images) > 1, append_images=images[1:], **save)
    return out.getvalue()


@needs_tesseract
@pytest.mark.parametrize("name, kind", [("page.png", "PNG"), ("page.jpg", "JPEG"), ("page.jpeg", "JPEG"), ("page.tif", "TIFF"), ("PAGE.TIFF", "TIFF")])
def test_an_image_is_one_page_read_by_ocr(name, kind):
    converted = convert(Path(name), image_file(kind, PAGE_ONE))
    assert (converted.text, converted.pages, converted.warnings) == (PAGE_ONE, 1, [])


@needs_tesseract
def test_each_frame_of_a_tiff_is_a_page(tmp_path, store):
    (tmp_path / "scan.tiff").write_bytes(image_file("TIFF", PAGE_ONE, PAGE_TWO, compression="tiff_deflate"))
    report = index_paths(store, [tmp_path], IngestOptions(workers=0, split_length=12, split_overlap=0), show_progress=False)
    assert (report.indexed, report.failed) == (1, 0), report.failures
    passages = sorted(store.filter_documents(), key=lambda d: d.meta["split_id"])
    assert [(d.content, d.meta["page_number"]) for d in passages] == [(PAGE_ONE, 1), (PAGE_TWO, 2)]


@needs_tesseract
def test_transparent_png_is_read_on_white():
    # Black text on a transparent background: flattened on black, the text would vanish.
    from PIL import Image

    grey = page_images(text_pdf(PAGE_ONE))[0]
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 0))
    rgba.putalpha(grey.point(lambda v: 255 - v))
    out = io.BytesIO()
    rgba.save(out, "PNG")
    assert convert(Path("t.png"), out.getvalue()).text == PAGE_ONE


@needs_tesseract
def test_a_photo_is_turned_upright_by_its_exif_orientation():
    from PIL import Image

    rotated = page_images(text_pdf(PAGE_ONE))[0].transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: stored turned 90 degrees anticlockwise, to be turned back
    out = io.BytesIO()
    rotated.save(out, "JPEG", exif=exif, dpi=(200, 200))
    assert convert(Path("photo.jpg"), out.getvalue()).text == PAGE_ONE


@needs_tesseract
def test_an_image_without_words_is_indexed_empty_with_a_warning():
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (800, 600), 255).save(out, "PNG")
    converted = convert(Path("blank.png"), out.getvalue())
    assert (converted.text, converted.pages, converted.warnings) == ("", 1, ["OCR found no words in it"])


def test_an_image_without_engine_names_the_install_command(monkeypatch):
    monkeypatch.setattr(ocr, "TESSERACT", "tesseract-not-installed-here")
    with pytest.raises(ConversionError) as err:
        convert(Path("page.png"), image_file("PNG", PAGE_ONE))
    assert str(err.value) == f"an image has no text layer: it is read by OCR, and no OCR engine is installed: {INSTALL}"


@pytest.fixture
def engine_present(monkeypatch):
    # The size checks come before OCR runs, so these tests need no Tesseract.
    monkeypatch.setattr(ocr, "unavailable", lambda options: None)
    import ingest.image

    monkeypatch.setattr(ingest.image, "unavailable", lambda options: None)


def test_an_image_larger_than_ocr_reads_is_refused_before_decoding(engine_present):
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (6000, 7000), 1).save(out, "PNG")  # 42 megapixels in a few kB
    with pytest.raises(ConversionError) as err:
        convert(Path("big.png"), out.getvalue())
    assert str(err.value) == (
        "image of 6000 x 7000 pixels (42 megapixels) is larger than OCR reads (at most 35 megapixels, an A4 page at 600 dpi): "
        "scale it down (e.g. `convert in.png -resize 50% out.png`) and index that"
    )


def test_a_decompression_bomb_is_refused_by_pillows_check(engine_present):
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (20000, 20000), 1).save(out, "PNG")  # 400 megapixels, 60 kB of file
    with pytest.raises(ConversionError) as err:
        convert(Path("bomb.png"), out.getvalue())
    assert str(err.value) == (
        "image too large for OCR (Pillow: Image size (400000000 pixels) exceeds limit of 178956970 pixels, could be decompression bomb DOS attack.): "
        "scale it down (e.g. `convert in.png -resize 50% out.png`) and index that"
    )


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not an image at all", "not an image Pillow can read (damaged, or another kind of file with an image's name)"),
        (image_file("PNG", PAGE_ONE)[:2000], "damaged or truncated image (OSError: image file is truncated)"),
        (image_file("TIFF", PAGE_ONE)[:3000], "damaged or truncated image (OSError: image file is truncated (1172 bytes not processed))"),
    ],
)
def test_damaged_images_are_reported(engine_present, data, message):
    with pytest.raises(ConversionError) as err:
        convert(Path("x.png"), data)
    assert str(err.value) == message
