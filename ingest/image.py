"""Image files (PNG, JPEG, TIFF) -> page texts read by OCR (ingest/ocr.py); each frame of a multi-page TIFF is a page.

An image is a paged document of one page (a TIFF of as many as it has frames), so passages
name their page as a PDF's do. Pillow reads the file; its size is checked against
ocr.MAX_PIXELS before any pixel is decoded, so a decompression bomb (a small file that
decodes to gigabytes) is refused with the reason instead of exhausting the worker's memory.
"""

from __future__ import annotations

import io
import struct
import warnings as warning_filters
from collections.abc import Iterator

from ingest.clean import clean
from ingest.converted import PAGE_BREAK, ConversionError, Converted, one_line
from ingest.ocr import MAX_PIXELS, read_image, too_large, unavailable, warn_if_poor
from ingest.options import IngestOptions

MAX_FRAMES = 10_000  # pages of a TIFF: more is a damaged or hostile file


def convert_image(data: bytes, options: IngestOptions) -> Converted:
    """The text of an image file, read by OCR; a multi-page TIFF page by page."""
    missing = unavailable(options.ocr)
    if missing is not None:
        raise ConversionError(f"an image has no text layer: it is read by OCR, and {missing}")
    from PIL import Image, ImageOps, UnidentifiedImageError

    warnings: list[str] = []
    pages: list[str] = []
    try:
        with warning_filters.catch_warnings():
            # Pillow's own bomb check (Image.MAX_IMAGE_PIXELS, left as it is) warns when opening
            # an image above 89 megapixels and refuses one above twice that; here both refuse.
            # Smaller ones are checked against MAX_PIXELS frame by frame, before decoding.
            warning_filters.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            for number, frame in enumerate(_frames(image), 1):
                name = f"page {number}" if getattr(image, "n_frames", 1) > 1 else "the image"
                try:
                    page = read_image(ImageOps.exif_transpose(frame), options.ocr, dpi=_dpi(frame))
                except ConversionError as exc:
                    raise ConversionError(f"{name}: {exc}" if name != "the image" else str(exc)) from None
                warn_if_poor(page, name, warnings)
                pages.append(clean(page.text))
    except ConversionError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ConversionError(f"image too large for OCR (Pillow: {one_line(exc)}): scale it down (e.g. `convert in.png -resize 50% out.png`) and index that") from None
    except UnidentifiedImageError:
        raise ConversionError("not an image Pillow can read (damaged, or another kind of file with an image's name)") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error) as exc:
        # Pillow reports truncated and damaged files with these.
        raise ConversionError(f"damaged or truncated image ({type(exc).__name__}: {one_line(exc)})") from None
    if not any(pages):
        warnings.append("OCR found no words in it")
    return Converted(PAGE_BREAK.join(pages), len(pages), warnings)


def _frames(image: object) -> Iterator[object]:
    """Each frame of the image, checked for size before it is decoded."""
    from PIL import ImageSequence

    count = getattr(image, "n_frames", 1)
    if count > MAX_FRAMES:
        raise ConversionError(f"image with {count} frames: docqa reads at most {MAX_FRAMES} pages of a TIFF")
    for frame in ImageSequence.Iterator(image):  # type: ignore[arg-type]
        width, height = frame.size
        if width * height > MAX_PIXELS:
            raise ConversionError(too_large(width, height))
        frame.load()
        yield frame


def _dpi(image: object) -> int | None:
    """The resolution the file records, when it is a plausible scan's (70-1200); else Tesseract estimates."""
    dpi = getattr(image, "info", {}).get("dpi")
    try:
        x = round(float(dpi[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return x if 70 <= x <= 1200 else None

