"""OCR: the text of pages without a text layer (scanned PDF pages, image files), read by Tesseract.

Tesseract's command-line program reads one page image per run (`tesseract stdin stdout tsv`).
A child process rather than a binding in this process (tesserocr), because of the worker's
guards: a page that runs too long is killed at its time limit (SIGALRM cannot interrupt C++
code in this process, and subprocess.run kills its child on the exception the alarm raises),
the child inherits the worker's address-space limit, and a crash in Tesseract fails one page,
not the worker. The words are the same either way (bench/ocr.py, BENCHMARKS.md); tesserocr's
wheel read a page with about half the CPU, but it bundles Tesseract 5.5.4 against Debian 12's
5.3.0 here, and the CLI's start-up is 0.1 s a page: the gap is the version, not the interface.

Time: a page read by OCR gets ingest.ocr.page_timeout_s of CPU time of its own (RLIMIT_CPU
of the child), on top of the file's ingest.timeout_s, so a 300-page scan is not stopped at the
limit meant for one file's parsing; the time spent on OCR is not charged to the file's limit
(see _page_clock). CPU time, not wall time: on a busy machine (one worker per core, other
work besides) a page of 4 CPU-seconds took a minute of wall time in bench/ocr.py, and a wall
limit would leave out pages that are merely waiting. A child that hangs without using CPU is
stopped after WALL_FACTOR times the limit in wall time.

Memory: a PDF page is rendered at ingest.ocr.dpi, or lower when that would exceed
MAX_PIXELS; an image file larger than MAX_PIXELS is refused before it is decoded.

Text: Tesseract's words, "\n" between lines, "\n\n" between paragraphs; ingest/clean.py
then treats it as any other text. Word confidence is not used to drop words (measured: it
raises the word error rate, BENCHMARKS.md); a page read with a low mean confidence gets a
warning naming it, since its passages may be garbled.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.converted import ConversionError, one_line
from ingest.options import IngestOptions, OcrOptions

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

TESSERACT = "tesseract"  # the command run, found on PATH
INSTALL_HOW = "(Debian/Ubuntu: `sudo apt-get install tesseract-ocr`, macOS: `brew install tesseract`)"
INSTALL = f"install Tesseract {INSTALL_HOW}"
# The largest image OCR reads, in pixels: an A4 page at 600 dpi, the most document scanners
# offer. Tesseract read a page this size full of text in 200 MB (maximum resident set) and
# 14 s, well within the workers' 2048 MB default (tests/test_ocr.py runs it under that limit).
MAX_PIXELS = 4961 * 7016
# A page whose words' mean confidence is below this (0-100) gets a warning: on the clean scans
# of bench/ocr.py pages score 90-96; a page below 60 is mostly misread.
LOW_CONFIDENCE = 60.0
# Scans below this are upsampled to it: Tesseract wants letters some 20 pixels high.
MIN_SCAN_DPI = 200
PROGRESS_EVERY = 10  # pages between progress lines (INFO) in a long scan
WALL_FACTOR = 10  # a page's wall-time limit, in multiples of its CPU-time limit


@dataclass(frozen=True)
class PageText:
    text: str
    confidence: float | None  # mean word confidence, 0-100; None when no word was read


def ocr_pdf_pages(data: bytes, pages: list[int], options: IngestOptions, warnings: list[str], has_text: bool) -> dict[int, str]:
    """The text of the PDF's pages `pages` (0-based) read by OCR, by page index.

    `has_text`: other pages have a text layer. Without an OCR engine such a PDF keeps those
    pages, with a warning naming the pages left out; one with no text at all is an error.
    A page that OCR cannot read is left out with a warning; when none can, it is an error.
    """
    missing = unavailable(options.ocr)
    if missing is not None:
        if not has_text:
            raise ConversionError(f"PDF has no text layer (scanned?) and {missing}")
        warnings.append(f"{_pages_named(pages)} without a text layer left out: {missing}")
        return {}
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ConversionError(f"PDF pages cannot be rendered for OCR ({one_line(exc)})") from None
    texts: dict[int, str] = {}
    failures: list[str] = []
    started = time.perf_counter()
    try:
        for done, index in enumerate(pages, 1):
            if _is_empty(pdf, index):
                continue  # a blank page: nothing to read, and OCR would cost a second
            try:
                with _page_clock(WALL_FACTOR * options.ocr.page_timeout_s) as seconds_left:
                    image, dpi = _render(pdf, index, options.ocr.dpi)
                    page = read_image(image, options.ocr, dpi=dpi, wall_s=seconds_left())
            except ConversionError as exc:
                failures.append(f"page {index + 1}: {exc}")
                continue
            texts[index] = page.text
            warn_if_poor(page, f"page {index + 1}", warnings)
            if done % PROGRESS_EVERY == 0 and done < len(pages):
                rate = (time.perf_counter() - started) / done
                logger.info("OCR: %d of %d scanned pages read (%.1f s a page)", done, len(pages), rate)
    finally:
        pdf.close()
    if not has_text and not any(texts.values()):
        if failures:
            raise ConversionError(f"PDF has no text layer (scanned?) and OCR could not read it: {failures[0]}")
        raise ConversionError(f"PDF has no text layer (scanned?) and OCR found no words on {_pages_named(pages, 'its ')}")
    warnings.extend(f"{failure}; the page is left out" for failure in failures)
    return texts


def unavailable(options: OcrOptions) -> str | None:
    """Why OCR cannot run ("no OCR engine is installed: install ..."), or None when it can."""
    if not options.enabled:
        return "OCR is off (ingest.ocr.enabled: false): set it to true to read scanned pages"
    command = shutil.which(TESSERACT)
    if command is None:
        return f"no OCR engine is installed: {INSTALL}, then index it again"
    installed = _languages(command)
    if installed is None:
        return f"the OCR engine at {command} does not run (`{TESSERACT} --list-langs` fails): reinstall Tesseract {INSTALL_HOW}"
    wanted = options.languages.split("+")
    lacking = [language for language in wanted if language not in installed]
    if lacking:
        packages = " ".join(f"tesseract-ocr-{language.lower().replace('_', '-')}" for language in lacking)
        return (
            f"Tesseract has no data for {', '.join(lacking)} (ingest.ocr.languages: {options.languages}; it has "
            f"{', '.join(sorted(installed)) or 'none'}): install it (Debian/Ubuntu: `sudo apt-get install {packages}`, "
            "macOS: `brew install tesseract-lang`)"
        )
    return None


# How unavailable()'s reasons begin: a file read without OCR for one of them is read again
# by the next `docqa index` (ingest/indexer.py), so installing Tesseract is all it takes.
_UNAVAILABLE = ("OCR is off (ingest.ocr.enabled", "no OCR engine is installed", "the OCR engine at ", "Tesseract has no data for ")


def read_without_ocr(messages: list[str]) -> bool:
    """Whether a file's error or warnings say OCR could not run (missing, off, lacking a language)."""
    return any(reason in message for message in messages for reason in _UNAVAILABLE)


@functools.lru_cache(maxsize=8)
def _languages(command: str) -> frozenset[str] | None:
    """The languages the Tesseract at `command` has data for; None when it does not run."""
    try:
        result = subprocess.run([command, "--list-langs"], capture_output=True, text=True, timeout=30, env=_child_env())
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    # The first line says where the data lives; the rest are language names.
    return frozenset(line.strip() for line in result.stdout.splitlines()[1:] if line.strip())


def read_image(image: Image.Image, options: OcrOptions, *, dpi: int | None = None, wall_s: float | None = None) -> PageText:
    """The text of one page image, read by Tesseract (in a child process, see the module docstring).

    `dpi`: the image's resolution when known (a rendered page; an image file that records
    it); otherwise Tesseract estimates it. `wall_s`: wall time left for the page (default
    WALL_FACTOR x its CPU-time limit). Raises ConversionError when the page cannot be read.
    """
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ConversionError(too_large(width, height))
    if wall_s is None:
        wall_s = WALL_FACTOR * options.page_timeout_s
    command = shutil.which(TESSERACT) or TESSERACT
    args = [command, "stdin", "stdout", "-l", options.languages, "--psm", "3"]
    if dpi is not None:
        args += ["--dpi", str(dpi)]
    try:
        with subprocess.Popen(args + ["tsv"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env()) as child:
            try:
                _limit_cpu(child.pid, options.page_timeout_s)
                stdout, stderr = child.communicate(_pgm(image), timeout=max(wall_s, 0.01))
            except BaseException:
                # The wall limit, or the file's alarm (TimeoutError) while waiting: never leave it running.
                child.kill()
                child.wait()
                raise
    except subprocess.TimeoutExpired:
        raise ConversionError(
            f"OCR took longer than {wall_s:.0f} s of wall time ({WALL_FACTOR} x ingest.ocr.page_timeout_s): "
            "Tesseract hung, or the machine is overloaded"
        ) from None
    except OSError as exc:
        raise ConversionError(f"cannot run {command}: {exc.strerror or exc}") from None
    if child.returncode == -signal.SIGXCPU:
        raise ConversionError(f"OCR took more than {options.page_timeout_s:g} s of CPU time (ingest.ocr.page_timeout_s)")
    if child.returncode != 0:
        raise ConversionError(_failure(child.returncode, stderr.decode("utf-8", "replace"), width * height))
    return parse_tsv(stdout.decode("utf-8", "replace"))


def _limit_cpu(pid: int, seconds: float) -> None:
    """RLIMIT_CPU for the child: SIGXCPU at `seconds` of CPU time, SIGKILL a second later.

    Set from here once it runs (preexec_fn is unsafe in a process with threads, as a worker
    is); CPU time it used before counts all the same.
    """
    if not hasattr(resource, "prlimit"):
        return  # Linux only; elsewhere the wall-time limit holds alone
    soft = max(1, math.ceil(seconds))
    try:
        resource.prlimit(pid, resource.RLIMIT_CPU, (soft, soft + 1))
    except (ProcessLookupError, PermissionError):
        pass  # already finished


def too_large(width: int, height: int) -> str:
    return (
        f"image of {width} x {height} pixels ({width * height / 1e6:.0f} megapixels) is larger than OCR reads "
        f"(at most {MAX_PIXELS / 1e6:.0f} megapixels, an A4 page at 600 dpi): scale it down "
        "(e.g. `convert in.png -resize 50% out.png`) and index that"
    )


def _failure(returncode: int, stderr: str, pixels: int) -> str:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(("Estimating resolution", "Detected"))]
    said = one_line(Exception(lines[-1])) if lines else "no message"
    if returncode < 0 or "alloc" in stderr.lower():
        # Killed by a signal: most often an allocation refused under the worker's address-space limit.
        return f"Tesseract stopped ({_signal_name(returncode)}: {said}) on a {pixels / 1e6:.0f}-megapixel page; if it ran out of memory, raise ingest.max_memory_mb"
    return f"Tesseract failed (exit status {returncode}: {said})"


def _signal_name(returncode: int) -> str:
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _child_env() -> dict[str, str]:
    # One worker per core already: Tesseract's OpenMP threads would only compete with them.
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def parse_tsv(tsv: str) -> PageText:
    """Tesseract's TSV output -> its words, "\n" between lines, "\n\n" between paragraphs, and their mean confidence.

    Columns: level page_num block_num par_num line_num word_num left top width height conf text;
    a word is a row of level 5 with text.
    """
    paragraphs: list[list[list[str]]] = []
    confidences: list[float] = []
    last_paragraph = last_line = None
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) < 12 or fields[0] != "5" or not fields[11].strip():
            continue
        paragraph, line = (fields[2], fields[3]), (fields[2], fields[3], fields[4])
        if paragraph != last_paragraph:
            paragraphs.append([])
        if line != last_line or paragraph != last_paragraph:
            paragraphs[-1].append([])
        paragraphs[-1][-1].append(fields[11].strip())
        last_paragraph, last_line = paragraph, line
        try:
            confidences.append(float(fields[10]))
        except ValueError:
            pass
    text = "\n\n".join("\n".join(" ".join(words) for words in lines) for lines in paragraphs)
    return PageText(text, sum(confidences) / len(confidences) if confidences else None)


def _pgm(image: Image.Image) -> bytes:
    """The image as 8-bit grey PGM: Tesseract reads it from stdin, and it costs nothing to write (PNG would)."""
    grey = to_grey(image)
    return b"P5 %d %d 255\n" % grey.size + grey.tobytes()


def to_grey(image: Image.Image) -> Image.Image:
    """8-bit grey, transparent parts on white (as on paper), not black."""
    from PIL import Image

    if image.mode == "L":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.point(lambda value: value / 256).convert("L")
    return image.convert("L")


def _render(pdf: object, index: int, dpi: int) -> tuple[Image.Image, int]:
    """Page `index` as a grey image for OCR, and its resolution.

    A scanned page (one image covering most of it) is rendered at the scan's own resolution,
    from MIN_SCAN_DPI up to `dpi`: resampling a scan adds no detail, and costs time and words
    (bench/ocr.py). Any other page at `dpi`. Either at most MAX_PIXELS.
    """
    page = pdf[index]  # type: ignore[index]
    try:
        width, height = page.get_size()  # points, 1/72 inch
        scanned = _scan_dpi(page, width * height)
        if scanned is not None:
            dpi = max(MIN_SCAN_DPI, min(scanned, dpi))
        fit = int((MAX_PIXELS / max(width * height / 72**2, 1e-6)) ** 0.5)
        dpi = max(min(dpi, fit), 1)
        return page.render(scale=dpi / 72, grayscale=True).to_pil(), dpi
    except Exception as exc:  # pdfium reports a page it cannot draw with its own error types
        raise ConversionError(f"cannot render the page for OCR ({type(exc).__name__}: {one_line(exc)})") from None
    finally:
        page.close()


def _scan_dpi(page: object, area: float) -> int | None:
    """The resolution of the image that covers most of the page (a scan), or None when there is none."""
    import pypdfium2.raw as pdfium_c

    best = None
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):  # type: ignore[attr-defined]
        left, bottom, right, top = image.get_bounds()
        if (right - left) * (top - bottom) >= 0.5 * area and right > left:
            pixels_wide, _ = image.get_px_size()
            best = max(best or 0, round(pixels_wide / ((right - left) / 72)))
    return best


def warn_if_poor(page: PageText, name: str, warnings: list[str]) -> None:
    if page.confidence is not None and page.confidence < LOW_CONFIDENCE:
        warnings.append(
            f"{name} read by OCR with low confidence ({page.confidence:.0f}/100): its passages may be garbled "
            "(a poor or skewed scan; rescanning at 300 dpi helps)"
        )


def _pages_named(pages: list[int], its: str = "") -> str:
    """'page 2', '3 pages (2, 5, 9)', 'its 3 pages (...)'; at most 10 numbers."""
    numbers = [str(i + 1) for i in pages]
    if len(numbers) > 10:
        numbers = numbers[:10] + [f"and {len(numbers) - 10} more"]
    if len(pages) == 1:
        return f"{its}page {numbers[0]}"
    return f"{its}{len(pages)} pages ({', '.join(numbers)})"


def _is_empty(pdf: object, index: int) -> bool:
    """Whether the page draws nothing at all (a blank page left in a document)."""
    page = pdf[index]  # type: ignore[index]
    try:
        return next(iter(page.get_objects(max_depth=1)), None) is None
    finally:
        page.close()


@contextmanager
def _page_clock(seconds: float) -> Iterator[Callable[[], float]]:
    """Give one page `seconds` of its own: the file's time limit (the worker's ITIMER_REAL) is
    paused for the page, and restored as it was afterwards. Yields a function returning the
    seconds left for the page."""
    started = time.monotonic()
    left_for_file = signal.getitimer(signal.ITIMER_REAL)[0] if _in_main_thread() else 0.0
    if left_for_file > 0:
        # The alarm still fires if the page overruns by far (the child's own timeout fails first).
        signal.setitimer(signal.ITIMER_REAL, left_for_file + seconds + 5)
    try:
        yield functools.partial(_left, started, seconds)
    finally:
        if left_for_file > 0:
            signal.setitimer(signal.ITIMER_REAL, left_for_file)


def _left(started: float, seconds: float) -> float:
    return seconds - (time.monotonic() - started)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
