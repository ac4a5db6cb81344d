"""Real documents: the same SQuAD articles as .txt, as pdflatex two-column papers and as scans.

    python bench/documents.py --articles 12-23 --variants text,pdf,scan

Renders the articles (bench/render_papers.py, cached under OUT/render), indexes each variant
in its own database with `docqa index`, asks every question of those articles with
`docqa ask --batch` and the trained fixture reader, and scores the top answers with SQuAD
v1.1's official metrics (pipeline.evaluate.squad_scores). Reports, per variant: EM/F1, the
indexing time and pages/s, and the share of top answers whose named page holds them (the
answer's text found on the page the JSON names, whitespace and hyphens aside, read with
pdfium; a scan's pages are read from the paper it was made from). With the pdf variant it
also times the PDF converter of commit BEFORE (pypdf's text) against this tree's on the same
papers, in one process each, alternating, medians.

Everything is written under OUT (default bench/out/documents/, gitignored): results.json,
each variant's database, questions and answers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.render_papers import render_article, settable, unsettable_characters  # noqa: E402
from ingest.pdf_lines import join_accents  # noqa: E402
from pipeline.evaluate import SquadQuestion, squad_scores  # noqa: E402

SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"
MODEL = REPO.parent / "shared" / "models" / "qa-minilm-uncased"
BEFORE = "22dbb17"  # the converter before issue 20: pypdf's extract_text


def articles(spec: str) -> list[int]:
    """'12-23' or '0,3,5-7' as indexes."""
    out: list[int] = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def cpu_name() -> str:
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def squash(text: str) -> str:
    """Text as compared for 'the page holds the answer': lower case, no whitespace, dashes, hyphens
    or accents (OCR reads `Llívia` as `Llivia` and `2005–2010` as `2005-2010` on the right page;
    pdfium reads pdflatex's T1 `Đ` as `ð`, and OCR reads it `D`)."""
    text = unicodedata.normalize("NFKD", join_accents(text)).lower().translate(_BARRED)
    return "".join(ch for ch in text if not ch.isspace() and not unicodedata.combining(ch)
                   and unicodedata.category(ch) != "Pd" and ch not in "\u00ad\x02\ufffe")


# Letters NFKD leaves whole that a reader of the page takes for their base letter.
_BARRED = str.maketrans({"đ": "d", "ð": "d", "ø": "o", "ł": "l", "ħ": "h"})


def page_texts(pdf: Path) -> list[str]:
    """Each page's text as pdfium reads it, raw (content order, no layout), less what is set smaller
    than the page's body: footnote marks (`Bowman.⁹ Bowman`) and footnotes, which docqa takes out of
    the sentence and which content order can put inside a word (`loca… [footnote] …tions`)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    document = pdfium.PdfDocument(str(pdf))
    try:
        pages = []
        for i in range(len(document)):
            page = document[i]
            textpage = page.get_textpage()  # held: its handle closes when the object goes
            tp = textpage.raw
            chars = [(chr(raw.FPDFText_GetUnicode(tp, j) or 0xFFFD), raw.FPDFText_GetFontSize(tp, j))
                     for j in range(raw.FPDFText_CountChars(tp))]
            sizes = Counter(round(size, 1) for ch, size in chars if ch.isalnum())
            body = sizes.most_common(1)[0][0] if sizes else 0
            # Both readings: an answer taken from a footnote is on its page too.
            pages.append(squash("".join(ch for ch, size in chars if ch.isspace() or size >= 0.85 * body))
                         + "\n" + squash("".join(ch for ch, _ in chars)))
            textpage.close()
            page.close()
        return pages
    finally:
        document.close()


def docqa(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipeline.cli.main", *args], capture_output=True, text=True, env=env, cwd=REPO)


def run_variant(name: str, files: list[Path], questions: list[SquadQuestion], out: Path, config: Path) -> dict:
    db = out / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    indexed = docqa("index", *map(str, files), "--db", str(db), "--config", str(config), "--workers", "1", "--json")
    index_seconds = time.perf_counter() - started
    if indexed.returncode not in (0, 1):
        raise RuntimeError(f"docqa index failed: {indexed.stderr[-2000:]}")
    report = json.loads(indexed.stdout)
    pages = sum(_pages(f) for f in files) if name != "text" else None
    if report["files"]["indexed"] == 0:
        # Nothing to ask (the scans before OCR: "PDF has no text layer"): every question scores 0.
        return {"files": report["files"], "failures": report["failures"][:3], "pages": pages, "questions": len(questions),
                "answered": 0, **squad_scores({}, questions)}
    batch = out / f"{name}-questions.jsonl"
    batch.write_text("".join(json.dumps({"id": q.id, "question": q.question}) + "\n" for q in questions), encoding="utf-8")
    answers_path = out / f"{name}-answers.jsonl"
    started = time.perf_counter()
    asked = docqa("ask", "--batch", str(batch), "--out", str(answers_path), "--db", str(db), "--config", str(config))
    ask_seconds = time.perf_counter() - started
    if asked.returncode != 0 and not answers_path.exists():
        raise RuntimeError(f"docqa ask --batch failed: {asked.stderr[-2000:]}")
    records = [json.loads(line) for line in answers_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    predictions = {r["id"]: r["answers"][0]["answer"] for r in records if r.get("answers")}
    result = {
        "files": report["files"], "failures": report["failures"], "passages": report["passages"],
        "index_seconds": round(index_seconds, 2), "index_seconds_reported": report["seconds"],
        "pages": pages, "pages_per_second": round(pages / report["seconds"], 2) if pages and report["seconds"] else None,
        "questions": len(questions), "answered": len(predictions), "ask_seconds": round(ask_seconds, 1),
        **{k: round(v, 2) for k, v in squad_scores(predictions, questions).items()},
    }
    if name != "text":
        result.update(_named_pages(records, files))
    return result


def _pages(pdf: Path) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf))
    try:
        return len(document)
    finally:
        document.close()


def _paper_of(file: Path) -> Path:
    """The PDF whose text layer holds `file`'s pages: a scan (render/scan/X.pdf) is read from the paper it
    was made from (render/pdf/X.pdf), since the scan itself has no text to compare against."""
    paper = file.parent.parent / "pdf" / file.name
    return paper if file.parent.name == "scan" and paper.exists() else file


def _readings(file_pages: list[str], pages: list[int]) -> list[str]:
    """The named pages' text, each reading of page_texts (less what is set smaller, raw) joined over them."""
    return ["".join(reading) for reading in zip(*(file_pages[p - 1].split("\n") for p in pages))]


def _named_pages(records: list[dict], files: list[Path]) -> dict:
    """The share of top answers whose named page (`page`, or every page of `pages`) holds their text."""
    texts = {str(f.resolve()): page_texts(_paper_of(f)) for f in files}
    ocr = any(_paper_of(f) != f for f in files)
    held = checked = pieced = across = approximate = shown = 0
    misses, undecided, elsewhere = [], [], []
    for r in records:
        if not r.get("answers"):
            continue
        top = r["answers"][0]
        pages = top.get("pages") or ([top["page"]] if top.get("page") else [])
        file_pages = texts.get(str(Path(top["file"]).resolve()))
        if not pages or file_pages is None:
            continue
        checked += 1
        readings = _readings(file_pages, [p for p in pages if 0 < p <= len(file_pages)])
        answer = squash(top["answer"])
        # An answer that runs from a sentence into the footnote docqa set after it, or from a
        # footnote into the next page's body, is not contiguous in the page as printed: each of
        # its pieces (cut at paragraph breaks and sentence ends) must then be on the named pages.
        pieces = [squash(piece) for piece in re.split(r"\n\s*\n|(?<=[.!?])\s+", top["answer"]) if squash(piece)]
        if any(answer in reading for reading in readings):
            held += 1
            shown += 1
        elif len(pieces) > 1 and all(any(piece in reading for reading in readings) for piece in pieces):
            held += 1
            shown += 1
            pieced += 1
        elif all(any(piece in reading for reading in readings) or _across_break(piece, pages, file_pages) for piece in pieces or [answer]):
            held += 1
            shown += 1
            across += 1
        elif ocr and all(any(_near(piece, reading) for reading in readings) for piece in pieces or [answer]):
            held += 1
            approximate += 1
            where = _page_by_context(top, pieces or [answer], pages, file_pages)
            if where == "named":
                shown += 1
            else:
                (undecided if where == "undecided" else elsewhere).append({"id": r["id"], "answer": top["answer"], "file": Path(top["file"]).name, "pages": pages})
        elif len(misses) < 20:
            misses.append({"id": r["id"], "answer": top["answer"], "file": Path(top["file"]).name, "pages": pages})
    return {"answers_on_named_page": round(held / checked, 4) if checked else None, "answers_checked": checked,
            "answers_held_in_pieces": pieced, "answers_held_across_a_break": across, "answers_held_approximately": approximate,
            "answers_shown_on_named_page": round(shown / checked, 4) if checked else None,
            "approximate_undecided": undecided, "approximate_nearer_elsewhere": elsewhere, "page_misses": misses}


EDGE = 300  # characters of a page's body (squashed) that count as its end or its start, around furniture


def _across_break(piece: str, pages: list[int], file_pages: list[str]) -> bool:
    """Whether `piece` runs across the break between two named pages: a word hyphenated there
    (`Strath-` | `clyde`), which docqa makes whole on the first page. Its head must end page p's
    body and its tail start page p + 1's (each within EDGE characters of the page's end or start,
    the body read without what is set smaller: the page number and running head lie between)."""
    for p in pages:
        if p + 1 not in pages or p + 1 > len(file_pages):
            continue
        end, start = file_pages[p - 1].split("\n")[0][-EDGE:], file_pages[p].split("\n")[0][:EDGE]
        if any(piece[:k] in end and piece[k:] in start for k in range(1, len(piece))):
            return True
    return False


CONTEXT = 40  # characters of the answer's context either side that decide between pages


def _page_by_context(top: dict, pieces: list[str], pages: list[int], file_pages: list[str]) -> str:
    """For an answer held only approximately (OCR's reading): "named" when its page is shown to be
    the named one, "elsewhere" when another page is nearer, "undecided" when neither.

    Shown when no other page holds it within the tolerance; else the answer with CONTEXT
    characters of its context either side (as docqa returned it) decides: the page where that
    window is nearest (least edit distance) must be a named one, and strictly nearer than any other.
    """
    others = [p for p in range(1, len(file_pages) + 1) if p not in pages]
    if not any(all(any(_near(piece, reading) for reading in _readings(file_pages, [p])) for piece in pieces) for p in others):
        return "named"
    context, answer = top.get("context") or "", top["answer"]
    at = context.find(answer)
    if at < 0:
        return "undecided"
    window = squash(context[max(0, at - CONTEXT) : at + len(answer) + CONTEXT])
    named = min(_distance(window, reading) for reading in _readings(file_pages, pages))
    other = min(_distance(window, reading) for p in others for reading in _readings(file_pages, [p]))
    return "named" if named < other else "elsewhere" if other < named else "undecided"


def _distance(piece: str, page: str, enough: int = -1) -> int:
    """The least edit distance between `piece` and any substring of `page` (Sellers' approximate
    substring match); returned as soon as it is `enough` or less."""
    previous = list(range(len(piece) + 1))
    best = previous[-1]
    for ch in page:
        if best <= enough:
            break
        current = [0]
        for i, wanted in enumerate(piece, 1):
            current.append(min(previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (wanted != ch)))
        best = min(best, current[-1])
        previous = current
    return best


def _near(piece: str, page: str) -> bool:
    """Whether `page` holds `piece` within an edit distance of a fifth of its length (at least 1):
    a scan's answer is OCR's reading (`Ikhanate` for `Ilkhanate`, a footnote mark read as `?`),
    compared with the paper's text layer."""
    allowed = max(1, len(piece) // 5)
    return _distance(piece, page, allowed) <= allowed


def time_converters(pdfs: list[Path], repeats: int) -> dict:
    """Seconds to convert all `pdfs` with BEFORE's converter and with this tree's (medians of alternating runs)."""
    before = Path("/tmp/pdf-before")
    if not before.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(before), BEFORE], check=True, capture_output=True)
    script = (
        "import sys, time, json; from pathlib import Path; from ingest.convert import convert\n"
        "paths = [Path(p) for p in sys.argv[1:]]; data = [p.read_bytes() for p in paths]\n"
        "t = time.perf_counter()\n"
        "for p, d in zip(paths, data): convert(p, d)\n"
        "print(json.dumps(time.perf_counter() - t))\n"
    )
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(repeats):
        for label, tree in (("before", before), ("after", REPO)):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run([sys.executable, "-c", script, *(str(p.resolve()) for p in pdfs)], capture_output=True, text=True, env=env, cwd=tree, check=True)
            times[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
    pages = sum(_pages(p) for p in pdfs)
    before_s, after_s = statistics.median(times["before"]), statistics.median(times["after"])
    return {"pages": pages, "repeats": repeats, "before_seconds": round(before_s, 3), "after_seconds": round(after_s, 3),
            "before_pages_per_second": round(pages / before_s, 1), "after_pages_per_second": round(pages / after_s, 1),
            "after_over_before_speed": round(before_s / after_s, 2), "all_seconds": times}


def _plain_pdfs(folder: Path) -> list[Path]:
    """10 PDFs of 10 pages each as fpdf2 writes them (Helvetica, one column), as bench/ingest.py indexes."""
    import random

    from tests.corpus import page_text, write_pdf

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    return [write_pdf(folder / f"plain{i}.pdf", [page_text(rng, f"P{j}") for j in range(10)]) for i in range(10)]


_QUALITY = (
    "import sys, json, re; from pathlib import Path; from ingest.convert import convert\n"
    "print(json.dumps({p: convert(Path(p), Path(p).read_bytes()).text for p in sys.argv[1:]}))\n"
)


def text_quality(pdfs: list[Path], sources: dict[str, list[str]], titles: dict[str, str]) -> dict:
    """Per converter (BEFORE's and this tree's): words of the papers' text that are not words of
    the article or of what the paper adds (merged or broken words), running heads and page
    numbers left in the text, footnotes inside a paragraph of body text."""
    import re

    from bench.render_papers import HEAD, NAMES

    tokens = lambda text: re.findall(r"[^\W_]+", text.lower())  # noqa: E731
    added = set(tokens(HEAD + " SQuAD v1.1 development set, public half Part checked this paragraph against the 2016 dump; "
                       "the links were added by and " + " ".join(NAMES)))
    out = {}
    for label, tree in (("before", Path("/tmp/pdf-before")), ("after", REPO)):
        env = {**os.environ, "PYTHONPATH": str(tree)}
        done = subprocess.run([sys.executable, "-c", _QUALITY, *(str(p.resolve()) for p in pdfs)], capture_output=True, text=True,
                              env=env, cwd=tree, check=True)
        texts = json.loads(done.stdout)
        foreign = heads = notes_inside = words = 0
        for path, text in texts.items():
            name = Path(path).stem
            known = set(tokens(" ".join(sources[name]))) | added | set(tokens(titles[name]))
            got = tokens(text)
            words += len(got)
            foreign += sum(1 for w in got if w not in known)
            heads += text.count(HEAD)
            # A footnote inside the body: its words followed, in the same paragraph, by more text.
            notes_inside += len(re.findall(r"the links were added by \w+ and \w+\.[ \n][^\n\f]", text))
        out[label] = {"words": words, "words_not_in_the_article": foreign, "running_heads_in_text": heads,
                      "footnotes_inside_body_text": notes_inside}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", default="12-23", help="article indexes of the public half, e.g. 12-23 or 0,3")
    parser.add_argument("--variants", default="text,pdf,scan")
    parser.add_argument("--limit", type=int, help="ask at most this many questions (quick checks)")
    parser.add_argument("--every", type=int, default=1, help="ask every Nth question of the articles (in file order), for a shorter run")
    parser.add_argument("--offset", type=int, default=0, help="with --every: start at this question (another sample of the same size)")
    parser.add_argument("--retrieve-k", type=int, help="passages read per question (retriever.top_k; default: config.yaml's)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "documents")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--timing-only", action="store_true",
                        help="only time BEFORE's converter against this tree's, on the papers and on fpdf2's plain PDFs")
    parser.add_argument("--quality-only", action="store_true", help="only compare the converters' text of the papers (no questions)")
    parser.add_argument("--timing-repeats", type=int, default=3, help="alternating runs of the before/after converter timing (0: skip)")
    parser.add_argument("--recheck-pages", action="store_true",
                        help="only check again the named pages of the answers a run left in --out (after a change to the check)")
    args = parser.parse_args()

    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    chosen = articles(args.articles)
    args.out.mkdir(parents=True, exist_ok=True)
    unsettable = unsettable_characters([p["context"] for a in data for p in a["paragraphs"]], args.out / "cache")
    files: dict[str, list[Path]] = {"text": [], "pdf": [], "scan": []}
    questions: list[SquadQuestion] = []
    started = time.perf_counter()
    for index in chosen:
        article = data[index]
        paragraphs = [settable(p["context"], unsettable) for p in article["paragraphs"]]
        for variant, path in render_article(article["title"], paragraphs, args.out / "render").items():
            files[variant].append(path)
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                questions.append(SquadQuestion(qa["id"], qa["question"], [a["text"] for a in qa["answers"]], p["context"], 0))
    render_seconds = time.perf_counter() - started
    questions = questions[args.offset :: args.every]
    if args.limit is not None:
        questions = questions[: args.limit]
    config = args.out / "config.yaml"
    retriever = f"retriever:\n  top_k: {args.retrieve_k}\n" if args.retrieve_k else ""
    config.write_text(f"reader:\n  model: {args.model}\n{retriever}", encoding="utf-8")
    if args.timing_only:
        print("papers:", json.dumps({k: v for k, v in time_converters(files["pdf"], args.timing_repeats).items() if k != "all_seconds"}))
        print("fpdf2 plain pages:", json.dumps({k: v for k, v in time_converters(_plain_pdfs(args.out / "plain"), args.timing_repeats).items()
                                                 if k != "all_seconds"}))
        return
    if args.quality_only:
        sources = {Path(p).stem: [] for p in files["pdf"]}
        titles = {}
        for index in chosen:
            name = Path(render_article(data[index]["title"], [settable(p["context"], unsettable) for p in data[index]["paragraphs"]],
                                       args.out / "render")["pdf"]).stem
            sources[name] = [settable(p["context"], unsettable) for p in data[index]["paragraphs"]]
            titles[name] = data[index]["title"].replace("_", " ")
        print(json.dumps(text_quality(files["pdf"], sources, titles), indent=1))
        return
    if args.recheck_pages:
        results = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
        for variant, r in results["variants"].items():
            answers = args.out / f"{variant}-answers.jsonl"
            if variant != "text" and answers.exists():
                records = [json.loads(line) for line in answers.read_text(encoding="utf-8").splitlines() if line.strip()]
                r.update(_named_pages(records, files[variant]))
                print(variant, json.dumps({k: r[k] for k in ("answers_on_named_page", "answers_checked", "answers_held_in_pieces", "answers_held_across_a_break", "answers_held_approximately",
                                                       "answers_shown_on_named_page", "approximate_undecided", "approximate_nearer_elsewhere", "page_misses")}), flush=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
        return
    results: dict = {"articles": args.articles, "every": args.every, "offset": args.offset, "retrieve_k": args.retrieve_k, "questions": len(questions), "cpu": cpu_name(), "cores": os.cpu_count(), "render_seconds": round(render_seconds, 1),
                     "unsettable_characters": "".join(sorted(unsettable)), "variants": {}}
    if "pdf" in args.variants.split(",") and args.timing_repeats:
        results["converter_timing"] = time_converters(files["pdf"], args.timing_repeats)
        print("converter timing:", json.dumps({k: v for k, v in results["converter_timing"].items() if k != "all_seconds"}), flush=True)
    for variant in args.variants.split(","):
        results["variants"][variant] = run_variant(variant, files[variant], questions, args.out, config)
        print(variant, json.dumps({k: v for k, v in results["variants"][variant].items() if k not in ("page_misses", "failures")}), flush=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    text_f1 = results["variants"].get("text", {}).get("f1")
    for variant, r in results["variants"].items():
        if text_f1:
            r["f1_over_text"] = round(r["f1"] / text_f1, 3)
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(json.dumps({v: {k: r.get(k) for k in ("exact_match", "f1", "f1_over_text", "pages_per_second", "answers_on_named_page")}
                      for v, r in results["variants"].items()}, indent=1))


if __name__ == "__main__":
    main()
