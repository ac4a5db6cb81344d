"""Real files for tests and benchmarks: multi-page PDFs with known text on known pages, and bad inputs."""

from __future__ import annotations

import os
import random
import zlib
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import EncryptionMethod

WORDS = (
    "river mountain archive library engine harbor signal meadow lantern copper orbit canyon "
    "glacier ember falcon thunder prairie compass quartz willow beacon summit delta marble"
).split()


# Words no test question asks about: bulk text that a retriever never ranks.
FILLER = (
    "oak pebble violet nickel harvest pigeon tundra saffron cobalt lagoon ferry anvil "
    "juniper topaz meteor cinder walnut heron fjord sable quill basalt amber tusk"
).split()


def sentence(rng: random.Random, n: int = 12, words: tuple[str, ...] | list[str] = WORDS) -> str:
    chosen = [rng.choice(words) for _ in range(n)]
    return " ".join(chosen).capitalize() + "."


def page_text(rng: random.Random, marker: str, sentences: int = 20) -> str:
    return f"{marker}. " + " ".join(sentence(rng) for _ in range(sentences))


def write_pdf(path: Path, pages: list[str], *, user_password: str | None = None) -> Path:
    """A PDF with one text page per entry of `pages` (latin-1 text; fpdf2's core font)."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-secret", user_password=user_password, encryption_method=EncryptionMethod.AES_128)
    path.write_bytes(bytes(pdf.output()))
    return path


def write_image_only_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF with drawings and no text layer, as a scan without OCR looks to a text extractor."""
    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
    path.write_bytes(bytes(pdf.output()))
    return path


def write_bomb_pdf(path: Path, expanded_mb: int = 200) -> Path:
    """A one-page PDF whose content stream is a few hundred KB that inflate to `expanded_mb` MB."""
    content = zlib.compress(b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET\n" + b" " * (expanded_mb << 20), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%b\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def write_bad_files(folder: Path, seed: int = 0) -> dict[str, str]:
    """Every kind of bad input, with the start of the reason docqa gives for it."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    good = write_pdf(folder / "_tmp.pdf", [page_text(rng, "Truncated") for _ in range(3)]).read_bytes()
    (folder / "_tmp.pdf").unlink()
    write_pdf(folder / "encrypted.pdf", ["Secret page."], user_password="pw")
    (folder / "truncated.pdf").write_bytes(good[: len(good) * 6 // 10])
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(3000)))
    write_image_only_pdf(folder / "scanned.pdf")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_bytes(b"  \n\n\t ")
    (folder / "binary.txt").write_bytes(bytes(rng.randrange(256) for _ in range(4000)))
    os.symlink(folder / "does-not-exist.txt", folder / "dangling.txt")
    return {
        "encrypted.pdf": "encrypted PDF that needs a password",
        "truncated.pdf": "corrupt or truncated PDF",
        "corrupt.pdf": "corrupt or truncated PDF",
        "scanned.pdf": "PDF has no text layer",
        "empty.txt": "empty file",
        "blank.md": "empty file (only whitespace)",
        "binary.txt": "binary file",
        "dangling.txt": "cannot read: No such file or directory",
    }


def write_corpus(folder: Path, pdfs: int, texts: int, pages: int = 3, seed: int = 0) -> dict[str, list[str]]:
    """`pdfs` PDFs of `pages` pages and `texts` text files; returns each file's page texts."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    for i in range(pdfs):
        sub = folder / f"set{i % 5}"
        sub.mkdir(exist_ok=True)
        texts_ = [page_text(rng, f"Document {i} page {p + 1}") for p in range(pages)]
        written[str(write_pdf(sub / f"doc{i:04d}.pdf", texts_))] = texts_
    for i in range(texts):
        path = folder / ("notes" if i % 2 else "md") / f"note{i:04d}.{'txt' if i % 2 else 'md'}"
        path.parent.mkdir(exist_ok=True)
        body = "\n\n".join(page_text(rng, f"Note {i} part {p}", 8) for p in range(3))
        path.write_text(body, encoding="utf-8")
        written[str(path)] = [body]
    return written


def write_large_text(path: Path, megabytes: float, seed: int = 0, words: list[str] = WORDS) -> Path:
    """A text file of about `megabytes` MB of paragraphs, written in pieces (never whole in memory)."""
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    with open(path, "w", encoding="utf-8") as f:
        written = 0
        while written < target:
            paragraph = " ".join(sentence(rng, words=words) for _ in range(rng.randint(3, 12))) + "\n\n"
            f.write(paragraph)
            written += len(paragraph)
    return path
