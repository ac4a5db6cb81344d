"""OCR engines and settings on scanned pages whose true text is known: word error rate and s/page.

Pages: SQuAD articles typeset by pdflatex as two-column papers (no running heads, so every
word on the page is a source word), rendered to 200-dpi grey images and put in an image-only
PDF with Pillow (JPEG inside, as scanners write them): the scans. Each engine/setting reads
every scanned page (rendered from the scan PDF by pypdfium2 at its dpi); its words, cleaned
by ingest/clean.py (which joins TeX's hyphenated line ends), are compared with the article's
words by word-level edit distance. Two rates: exact tokens, and tokens lower-cased with
punctuation stripped (what BM25 and the SQuAD metric see).

    nice -n 10 python bench/ocr.py [--articles 0-3] [--paragraphs 8] [--tesserocr /tmp/tesserocr-pkg]

Engines: `cli` is ingest/ocr.py (tesseract CLI, one child process a page, TSV out), at each
--dpis resolution and "as shipped" (the scan's own resolution, see ingest/ocr.py _render);
`cli-txt` the same CLI with plain text out; `pytesseract` image_to_string (PNG temp files);
`tesserocr` the C++ binding in-process (when its wheel is on --tesserocr's path), with the
same traineddata. Timings are per page, engines interleaved page by page so machine noise
falls on all alike; medians. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.clean import clean  # noqa: E402
from ingest.ocr import _render, parse_tsv, read_image  # noqa: E402
from ingest.options import OcrOptions  # noqa: E402

SQUAD = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad" / "dev-v1.1-public.json"
TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\~{}"}


def latin_words(text: str) -> str:
    """The paragraph with words pdflatex's T1 fonts cannot set dropped (so the truth is what is printed)."""
    return " ".join(w for w in text.split() if all(ord(c) < 256 for c in w))


def tex_escape(text: str) -> str:
    text = "".join(TEX_SPECIAL.get(c, c) for c in text)
    # Straight quotes as printed marks; hyphens and dashes as typed.
    return text.replace('"', "''").replace("<", r"\textless{}").replace(">", r"\textgreater{}")


def make_paper(paragraphs: list[str], folder: Path, name: str) -> Path:
    body = "\n\n".join(tex_escape(p) for p in paragraphs)
    tex = (
        "\\documentclass[10pt,twocolumn]{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
        "\\usepackage{lmodern}\n\\usepackage[margin=2cm]{geometry}\n\\pagestyle{empty}\n\\begin{document}\n"
        f"{body}\n\\end{{document}}\n"
    )
    (folder / f"{name}.tex").write_text(tex, encoding="utf-8")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=folder, capture_output=True, timeout=120, check=True)
    return folder / f"{name}.pdf"


def scan(pdf: Path, dpi: int = 200) -> bytes:
    """The PDF's pages as `dpi` grey images in an image-only PDF (JPEG, as scanners write)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    images = [doc[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(doc))]
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:], quality=85)
    return out.getvalue()


def word_errors(truth: list[str], got: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions)."""
    previous = list(range(len(got) + 1))
    for i, t in enumerate(truth, 1):
        current = [i] + [0] * len(got)
        for j, g in enumerate(got, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (t != g))
        previous = current
    return previous[-1]


def rate(truth: list[list[str]], got: list[list[str]], norm: Callable[[list[str]], list[str]]) -> float:
    """Word error rate over articles: their errors summed over their words summed."""
    return sum(word_errors(norm(t), norm(g)) for t, g in zip(truth, got)) / sum(len(norm(t)) for t in truth)


def normalized(words: list[str]) -> list[str]:
    out = [re.sub(r"[^\w]", "", w.lower()) for w in words]
    return [w for w in out if w]


# Engines: (image, dpi) -> page text, and the confidence rows where they give them.
def engine_cli(image: Any, dpi: int) -> str:
    # No page time limit: on a busy machine a page's wall time is many times its CPU time.
    return read_image(image, OcrOptions(page_timeout_s=3600.0), dpi=dpi).text


def engine_cli_txt(image: Any, dpi: int) -> str:
    from ingest.ocr import _pgm

    args = ["tesseract", "stdin", "stdout", "-l", "eng", "--psm", "3", "--dpi", str(dpi)]
    out = subprocess.run(args, input=_pgm(image), capture_output=True, check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    return out.stdout.decode()


def engine_pytesseract(image: Any, dpi: int) -> str:
    import pytesseract

    return str(pytesseract.image_to_string(image, lang="eng", config=f"--psm 3 --dpi {dpi}"))


_API: Any = None


def engine_tesserocr(image: Any, dpi: int) -> str:
    global _API
    import tesserocr

    if _API is None:
        _API = tesserocr.PyTessBaseAPI(path="/usr/share/tesseract-ocr/5/tessdata/", lang="eng", psm=tesserocr.PSM.AUTO)
    _API.SetImage(image)
    _API.SetSourceResolution(dpi)
    return str(_API.GetUTF8Text())


def tsv_rows(image: Any, dpi: int) -> str:
    from ingest.ocr import _pgm

    args = ["tesseract", "stdin", "stdout", "-l", "eng", "--psm", "3", "--dpi", str(dpi), "tsv"]
    return subprocess.run(args, input=_pgm(image), capture_output=True, check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"}).stdout.decode()


def drop_below(tsv: str, floor: float) -> str:
    rows = tsv.splitlines()
    kept = [rows[0]] + [r for r in rows[1:] if not (r.split("\t")[0] == "5" and float(r.split("\t")[10]) < floor)]
    return parse_tsv("\n".join(kept)).text


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the tesseract runs): robust to a busy machine."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", default="0-3", help="SQuAD dev articles, a range (tuning: 0-11)")
    parser.add_argument("--paragraphs", type=int, default=8, help="first paragraphs of each article")
    parser.add_argument("--tesserocr", default=None, help="a folder holding the tesserocr wheel's files (pip install --target)")
    parser.add_argument("--dpis", default="200,300", help="render dpis tried for the CLI")
    parser.add_argument("--engines", default="cli,cli-txt,pytesseract", help="engines compared (tesserocr added with --tesserocr)")
    parser.add_argument("--scan-dpi", type=int, default=200, help="resolution of the scans")
    args = parser.parse_args()
    os.environ["OMP_THREAD_LIMIT"] = "1"
    first, _, last = args.articles.partition("-")
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"][int(first) : int(last or first) + 1]
    known: dict[str, Callable[[Any, int], str]] = {"cli": engine_cli, "cli-txt": engine_cli_txt, "pytesseract": engine_pytesseract}
    engines = {name: known[name] for name in args.engines.split(",")}
    if args.tesserocr:
        sys.path.insert(0, args.tesserocr)
        engines["tesserocr"] = engine_tesserocr
    dpis = [int(d) for d in args.dpis.split(",")]
    configs = [(name, 300 if 300 in dpis else dpis[0]) for name in engines] + [("cli", d) for d in dpis if d != 300] + [("cli", 0)]
    import pypdfium2 as pdfium

    texts: dict[tuple[str, int], list[str]] = {c: [] for c in configs}
    seconds: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    cpu_seconds: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    tsvs: list[list[str]] = []  # per article, per page (300 dpi)
    truth: list[list[str]] = []  # per article: errors are counted article by article (the DP is quadratic)
    pages = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, article in enumerate(data):
            paragraphs = [latin_words(p["context"]) for p in article["paragraphs"][: args.paragraphs]]
            truth.append(" ".join(paragraphs).split())
            tsvs.append([])
            scanned = pdfium.PdfDocument(scan(make_paper(paragraphs, Path(tmp), f"a{n}"), args.scan_dpi))
            article_texts: dict[tuple[str, int], list[str]] = {c: [] for c in configs}
            for index in range(len(scanned)):
                pages += 1
                for config in configs:
                    name, dpi = config
                    t0, c0 = time.perf_counter(), _cpu()
                    if dpi == 0:  # as shipped: ingest/ocr.py picks the resolution (the scan's own)
                        image, used = _render(scanned, index, OcrOptions().dpi)
                    else:
                        image, used = scanned[index].render(scale=dpi / 72, grayscale=True).to_pil(), dpi
                    article_texts[config].append(engines[name](image, used))
                    seconds[config].append(time.perf_counter() - t0)
                    cpu_seconds[config].append(_cpu() - c0)
                tsvs[-1].append(tsv_rows(scanned[index].render(scale=300 / 72, grayscale=True).to_pil(), 300))
            for config in configs:
                texts[config].append(clean("\n\n".join(article_texts[config])))
            print(f"article {article['title']}: {len(scanned)} pages", file=sys.stderr)
    base_config = ("cli", 300 if 300 in dpis else dpis[0])
    base, base_cpu = statistics.median(seconds[base_config]), statistics.median(cpu_seconds[base_config])
    cpu = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Model name")), platform.processor())
    print(f"\n{pages} pages scanned at {args.scan_dpi} dpi ({sum(map(len, truth))} words), articles {args.articles}, {cpu}, OMP_THREAD_LIMIT=1, one page at a time\n")
    print(f"| engine | render dpi | WER exact | WER normalized | wall s/page | CPU s/page | CPU vs {base_config[0]} {base_config[1]} dpi |")
    print("|---|---|---|---|---|---|---|")
    for config in configs:
        exact = rate(truth, [t.split() for t in texts[config]], lambda words: words)
        norm = rate(truth, [t.split() for t in texts[config]], normalized)
        s, c = statistics.median(seconds[config]), statistics.median(cpu_seconds[config])
        print(f"| {config[0]} | {config[1] or 'as shipped'} | {100 * exact:.2f}% | {100 * norm:.2f}% | {s:.2f} | {c:.2f} | {c / base_cpu:.2f}x |")
    # Confidence: dropping words Tesseract doubts, and the pages' mean confidence.
    print("\n| drop words with confidence below | WER normalized |\n|---|---|")
    for floor in (0, 20, 40, 60):
        got = [clean("\n\n".join(drop_below(t, floor) for t in article)).split() for article in tsvs]
        print(f"| {floor} | {100 * rate(truth, got, normalized):.2f}% |")
    means = sorted(parse_tsv(t).confidence or 0 for article in tsvs for t in article)
    print(f"\nmean word confidence per page: min {means[0]:.1f}, median {statistics.median(means):.1f}, max {means[-1]:.1f}")


if __name__ == "__main__":
    main()
