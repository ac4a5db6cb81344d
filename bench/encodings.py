"""Encoding detection of text files that are not UTF-8: charset_normalizer's best guess against docqa's.

The corpus is tests/languages.py's (Western languages in Latin-1, cp1252 and UTF-16; Central
European ones in cp1250 and UTF-16; one-line files), plus the cases of the ingest.encoding
docstring: other scripts, UTF-16 without a BOM, and one-word files that two encodings read
equally well. A file counts as right when its decoded text is exactly the text written.

    python bench/encodings.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EXTRA = [
    ("Russian", "cp1251", "Привет, мир! Сегодня хорошая погода, и мы идём гулять в парк у реки. " * 3),
    ("Russian", "koi8_r", "Привет, мир! Сегодня хорошая погода, и мы идём гулять в парк у реки. " * 3),
    ("Greek", "cp1253", "Καλημέρα σε όλους. Σήμερα ο καιρός είναι ωραίος και πάμε στη θάλασσα. " * 3),
    ("Japanese", "shift_jis", "今日はいい天気ですね。公園に散歩に行きましょう。" * 5),
    ("Turkish", "cp1254", "Türkiye'nin başkenti Ankara'dır. Güzel bir şehir, çok sıcak ve ışıklı."),
    ("French", "utf-16-le", "Il était une fois une forêt près de la rivière, où l'on prenait le café. " * 2),
    ("Czech", "utf-16-be", "Příliš žluťoučký kůň úpěl ďábelské ódy. " * 2),
    ("Hungarian", "cp1250", "Győr"),
    ("French", "cp1252", "La fenêtre est prête."),
]


def main() -> int:
    from charset_normalizer import from_bytes

    from ingest.encoding import detect
    from tests.languages import samples

    rows = []
    for language, encoding, text in [*samples(), *EXTRA]:
        data = text.encode(encoding)
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue  # a BOM says the encoding: nothing to detect
        best = from_bytes(data).best()
        baseline = best is not None and data.decode(best.encoding) == text
        started = time.perf_counter()
        detected = detect(data)
        seconds = time.perf_counter() - started
        ours = detected is not None and data.decode(detected.encoding) == text
        rows.append((language, encoding, best.encoding if best else None, baseline, detected, ours, seconds))

    print("| file | charset_normalizer | docqa |")
    print("|---|---|---|")
    for language, encoding, theirs, baseline, detected, ours, _ in rows:
        mark = lambda ok: "right" if ok else "**wrong**"  # noqa: E731
        doubt = " (doubtful)" if detected is not None and detected.doubtful else ""
        print(f"| {language}, {encoding} | {theirs}: {mark(baseline)} | {detected.encoding if detected else None}: {mark(ours)}{doubt} |")
    total = len(rows)
    print()
    print(f"charset_normalizer right: {sum(r[3] for r in rows)}/{total}")
    print(f"docqa right: {sum(r[5] for r in rows)}/{total}; doubtful: {sum(bool(r[4] and r[4].doubtful) for r in rows)}; "
          f"wrong and not reported doubtful: {sum(not r[5] and not (r[4] and r[4].doubtful) for r in rows)}")
    print(f"docqa detection time: median {sorted(r[6] for r in rows)[total // 2] * 1000:.1f} ms, max {max(r[6] for r in rows) * 1000:.1f} ms")

    # A 4 MB Latin-1 file, the most of a streamed file detection looks at.
    big = ("La forêt près du lac, à Zürich, où l'on va être heureux. " * 80_000).encode("latin-1")[: 4 * 1024 * 1024]
    started = time.perf_counter()
    from_bytes(big).best()
    theirs_s = time.perf_counter() - started
    started = time.perf_counter()
    detect(big)
    print(f"4 MB Latin-1 sample: charset_normalizer {theirs_s:.2f} s, docqa (charset_normalizer included) {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
