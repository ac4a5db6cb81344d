"""SQuAD articles as real documents: pdflatex two-column papers, 200-dpi scans of them, and .txt.

Used by bench/documents.py. A paper has what a real one has and a text file lacks: a running
head with the page number (\\pagestyle{myheadings}), section headings, footnotes that
interrupt sentences, TeX's hyphenation and justified lines. Renderings are cached by the
hash of their source, so a second benchmark run re-renders nothing.

pdflatex cannot set every character of the articles (Chinese, some Greek and IPA): those are
found from pdflatex's own errors and replaced by their accent-free base letters, or dropped,
in the .txt files too, so every variant holds the same words.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import tempfile
import unicodedata
from pathlib import Path

HEAD = "Proceedings of the Workshop on Reading Machines"
FOOTNOTE_EVERY = 4  # every 4th paragraph gets a footnote after its first sentence
SECTION_EVERY = 5  # a section heading before every 5th paragraph
SCAN_DPI = 200

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
# Characters inputenc does not know, set in math mode so their text stays the same letters.
_MATH = {"−": "-", "≠": r"\neq", "⊆": r"\subseteq", "≡": r"\equiv", "√": r"\surd", "±": r"\pm", "×": r"\times",
         "π": r"\pi", "Π": r"\Pi", "α": r"\alpha", "σ": r"\sigma", "ς": r"\varsigma", "ρ": r"\rho", "ε": r"\varepsilon",
         "ν": r"\nu", "ζ": r"\zeta", "μ": r"\mu", "κ": r"\kappa", "τ": r"\tau", "φ": r"\varphi", "ι": r"\iota",
         "θ": r"\theta", "ξ": r"\xi", "γ": r"\gamma", "ω": r"\omega", "λ": r"\lambda", "η": r"\eta"}
NAMES = ("Alder Birch Cedar Dogwood Elm Fir Ginkgo Hazel Ilex Juniper Kauri Larch Maple Nutmeg Oak Poplar Quince "
          "Rowan Spruce Tamarind Ulmo Viburnum Walnut Yew Zelkova Acacia Baobab Cypress Deodar Eucalyptus").split()
_SENTENCE_END = re.compile(r"(?<=[a-z]{3}[.!?]) (?=[A-Z])")


def plain_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")


def settable(text: str, unsettable: set[str]) -> str:
    """`text` with the characters pdflatex cannot set replaced by their base letters, or dropped."""
    out = []
    for ch in text:
        if ch in unsettable:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            # The base letter only where pdflatex can set it (the probe did not try ones absent from the text).
            ch = "".join(c for c in base if c.isascii() or c in _MATH)
        out.append(ch)
    return "".join(out)


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if ch in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[ch])
        elif ch in _MATH:
            out.append(f"${_MATH[ch]}$" if _MATH[ch].startswith("\\") else "$" + _MATH[ch] + "$")
        else:
            out.append(ch)
    return "".join(out)


def latex_source(title: str, paragraphs: list[str]) -> str:
    shown = title.replace("_", " ")
    body = []
    for i, paragraph in enumerate(paragraphs):
        if i % SECTION_EVERY == 0:
            body.append(f"\\section{{Part {i // SECTION_EVERY + 1}}}")
        text = _escape(paragraph)
        if i % FOOTNOTE_EVERY == FOOTNOTE_EVERY - 1:
            first = _SENTENCE_END.search(text)
            # Varied at both ends, as real footnotes are (one ending the same way on every page
            # would read as a running foot), in words that are not the article's (a footnote
            # repeating the paragraph's words would weigh the answers in them twice).
            a, b, c = (NAMES[(i * 7 + k * 13 + len(title)) % len(NAMES)] for k in range(3))
            note = _escape(f"{a} checked this paragraph against the 2016 dump; the links were added by {b} and {c}.")
            if first:
                text = text[: first.start()] + f"\\footnote{{{note}}}" + text[first.start():]
            else:
                text += f"\\footnote{{{note}}}"
        body.append(text)
    return "\n".join([
        r"\documentclass[twocolumn,10pt]{article}",
        r"\usepackage[utf8]{inputenc}", r"\usepackage[T1]{fontenc}", r"\usepackage{lmodern}", r"\usepackage{textcomp}",
        r"\usepackage[a4paper,margin=2cm]{geometry}",
        r"\pagestyle{myheadings}",
        f"\\markright{{{_escape(HEAD)} --- {_escape(shown)}}}",
        f"\\title{{{_escape(shown)}}}", r"\author{SQuAD v1.1 development set, public half}", r"\date{}",
        r"\begin{document}", r"\maketitle", "\n\n".join(body), r"\end{document}", "",
    ])


def _compile(source: str, out: Path) -> str:
    """Run pdflatex on `source`, writing `out`; returns the log."""
    with tempfile.TemporaryDirectory() as tmp:
        tex = Path(tmp) / "paper.tex"
        tex.write_text(source, encoding="utf-8")
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=tmp,
                       capture_output=True, timeout=300)
        log = (Path(tmp) / "paper.log").read_text(encoding="latin-1")
        if (Path(tmp) / "paper.pdf").exists():
            out.write_bytes((Path(tmp) / "paper.pdf").read_bytes())
        return log


_UNSET = re.compile(r"Unicode character (.) \(U\+([0-9A-F]+)\)")


def unsettable_characters(texts: list[str], cache: Path) -> set[str]:
    """The characters of `texts` that pdflatex (with inputenc/T1) cannot set, probed one by one."""
    chars = sorted({ch for t in texts for ch in t if ord(ch) > 127 and ch not in _MATH})
    key = hashlib.sha256("".join(chars).encode()).hexdigest()[:16]
    known = cache / f"unsettable-{key}.txt"
    if known.exists():
        return set(known.read_text(encoding="utf-8"))
    bad = set()
    for ch in chars:
        source = "\n".join([r"\documentclass{article}", r"\usepackage[utf8]{inputenc}", r"\usepackage[T1]{fontenc}",
                            r"\usepackage{lmodern}", r"\usepackage{textcomp}", r"\begin{document}", f"x{ch}x", r"\end{document}"])
        with tempfile.TemporaryDirectory() as tmp:
            log = _compile(source, Path(tmp) / "probe.pdf")
        if "! " in log:
            bad.add(ch)
    cache.mkdir(parents=True, exist_ok=True)
    known.write_text("".join(sorted(bad)), encoding="utf-8")
    return bad


def render_article(title: str, paragraphs: list[str], folder: Path) -> dict[str, Path]:
    """The article as paper (.pdf), scan (.pdf of page images) and text (.txt), cached in `folder`."""
    name = plain_name(title)
    source = latex_source(title, paragraphs)
    key = hashlib.sha256(source.encode()).hexdigest()[:12]
    paths = {"pdf": folder / "pdf" / f"{name}.pdf", "scan": folder / "scan" / f"{name}.pdf", "text": folder / "text" / f"{name}.txt"}
    stamp = folder / "pdf" / f"{name}.key"
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    if not (stamp.exists() and stamp.read_text() == key and all(p.exists() for p in paths.values())):
        log = _compile(source, paths["pdf"])
        log = _compile(source, paths["pdf"]) if "Rerun" in log else log
        if "! " in log or not paths["pdf"].exists():
            error = log[log.index("! "):][:500] if "! " in log else log[-500:]
            raise RuntimeError(f"pdflatex failed on {title}: {error}")
        _scan(paths["pdf"], paths["scan"])
        paths["text"].write_text(title.replace("_", " ") + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        stamp.write_text(key)
    return paths


def _scan(pdf: Path, out: Path) -> None:
    """An image-only PDF of `pdf`'s pages at SCAN_DPI, as a scanner makes (no text layer)."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", str(SCAN_DPI), "-gray", "-png", str(pdf), f"{tmp}/page"], check=True, timeout=600)
        pages = [Image.open(p) for p in sorted(Path(tmp).glob("page-*.png"))]
        pages[0].save(out, "PDF", resolution=SCAN_DPI, save_all=True, append_images=pages[1:])
