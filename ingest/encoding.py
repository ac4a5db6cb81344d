"""Choosing the encoding of a text file that is not UTF-8.

charset_normalizer alone garbles Western text: it read French Latin-1 as cp1250 ("foręt prčs
ŕ Zürich"), a line of French as cp1257 and Italian as cp1258, because those encodings decode
the same bytes into letters too. What tells them apart is the language: a real text spells
its words with the accented letters of *one* language, while a wrong single-byte encoding
scatters letters of several ("ę" of Polish, "č" of Czech and "ŕ" of Slovak in one French
sentence) or puts symbols inside words ("mo¿e" for Polish "może" read as cp1252).

So every candidate encoding (the common Latin-script single-byte ones, and whatever
charset_normalizer proposes) is scored by `plausibility`: the share of the decoded text's
non-ASCII letters that the best single language's alphabet explains. The Western encoding
(cp1252, a superset of Latin-1's printable characters) is preferred whenever it explains the
bytes as well as the best; otherwise charset_normalizer's order breaks ties (it knows
Cyrillic and CJK letter frequencies, which whole-script alphabets cannot judge). A choice is
*doubtful* when another candidate that decodes to different text explains the bytes about as
well, or when no candidate explains them well; the caller reports that, so a user can set
`ingest.encoding`. bench/encodings.py measures it on tests/languages.py's corpus
(BENCHMARKS.md, "Encodings").
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

# The Western encoding tried first, then Latin-1 (which also decodes the five bytes cp1252
# leaves undefined), then the Latin-script single-byte encodings its users' text could be in.
WESTERN = "cp1252"
LATIN_1 = "iso8859_1"
_LATIN_CANDIDATES = (WESTERN, LATIN_1, "cp1250", "cp1257", "cp1254", "iso8859_15")
# Candidates within this much plausibility of the best explain the bytes "as well".
_MARGIN = 0.02
# A choice explaining fewer of its letters than this is doubtful whatever the others do.
_WELL_EXPLAINED = 0.9
# Bytes of the sample scored per candidate: enough for any language's letters to show.
_SCORED_BYTES = 64 * 1024

# Lower-case letters beyond ASCII that each language writes with.
_ALPHABETS = {
    "French": "àâæçéèêëîïôœùûüÿ",
    "German": "äöüß",
    "Spanish": "áéíñóúü",
    "Portuguese": "áâãàçéêíóôõú",
    "Italian": "àèéìíîòóù",
    "Catalan": "àçèéíïòóú",
    "Dutch": "éèëïóöü",
    "Danish/Norwegian": "æøåé",
    "Swedish/Finnish": "åäöé",
    "Icelandic": "áðéíóúýþæö",
    "Czech": "áčďéěíňóřšťúůýž",
    "Slovak": "áäčďéíĺľňóôŕšťúýž",
    "Polish": "ąćęłńóśźż",
    "Hungarian": "áéíóöőúüű",
    "Croatian/Slovene": "čćđšž",
    "Romanian": "ăâîşţșț",
    "Lithuanian": "ąčęėįšųūž",
    "Latvian": "āčēģīķļņšūž",
    "Estonian": "äöõüšž",
    "Turkish": "çğıöşüâî",
}
# Languages written in other scripts: any letter of the script counts.
_SCRIPTS = {
    "Cyrillic": ("CYRILLIC",),
    "Greek": ("GREEK",),
    "Hebrew": ("HEBREW",),
    "Arabic": ("ARABIC",),
    "Thai": ("THAI",),
    "Chinese": ("CJK",),
    "Japanese": ("CJK", "HIRAGANA", "KATAKANA"),
    "Korean": ("HANGUL", "CJK"),
}
# A non-ASCII character that is neither letter nor digit between two letters is a wrong
# encoding's letter ("mo¿e"), unless it is an apostrophe, a hyphen or Catalan's middle dot.
_INNER_SYMBOL = re.compile(r"(?<=[^\W\d_])[^\w\s\x00-\x7f\u2019\u2018\u02bc\u00b7\u2010\u2011\u00ad](?=[^\W\d_])")


# A non-ASCII character beside an ASCII letter: part of a word written in Latin letters.
_NEXT_TO_ASCII_LETTER = re.compile(r"(?<=[A-Za-z])[^\x00-\x7f]|[^\x00-\x7f](?=[A-Za-z])")


@dataclass(frozen=True)
class Detected:
    encoding: str  # a Python codec name
    doubtful: str | None = None  # why the choice may be wrong, for the user; None when it is clear


def detect(sample: bytes) -> Detected | None:
    """The encoding of text that begins with `sample` (not UTF-8, no BOM); None for no text at all."""
    from charset_normalizer import from_bytes

    proposed = [_codec(match.encoding) for match in from_bytes(sample)]
    if not proposed:
        return None  # charset_normalizer finds no encoding that makes text of it: binary data
    head = sample[:_SCORED_BYTES]
    scored: dict[str, tuple[float, str]] = {}
    for encoding in dict.fromkeys([*_LATIN_CANDIDATES, *proposed]):
        text = _decode(head, encoding)
        if text is not None:
            scored[encoding] = (plausibility(text), text)
    if not scored:
        return Detected(proposed[0], "no encoding decodes it cleanly")
    best = max(score for score, _ in scored.values())
    near = [e for e, (score, _) in scored.items() if score >= best - _MARGIN]
    order = {e: i for i, e in enumerate(proposed)}
    if WESTERN in near:
        choice = WESTERN
    elif LATIN_1 in near:
        choice = LATIN_1
    else:
        choice = min(near, key=lambda e: order.get(e, len(order)))
    text = scored[choice][1]
    if scored[choice][0] < _WELL_EXPLAINED:
        return Detected(choice, f"no encoding explains its letters well ({choice} explains {scored[choice][0]:.0%})")
    # A rival is one that decodes to other text, and that charset_normalizer does not rank below
    # the choice (its letter frequencies settle Cyrillic's cp1251 against KOI8-R, say).
    rivals = [e for e in near if scored[e][1] != text and order.get(e, -1) <= order.get(choice, len(order))]
    if rivals:
        rival = rivals[0]
        return Detected(choice, f"{_name(rival)} would read it as well ({_differences(text, scored[rival][1])})")
    return Detected(choice)


def plausibility(text: str) -> float:
    """The share of `text`'s non-ASCII letters (and of symbols inside words) that one alphabet explains.

    1.0 for text with no such characters. Control characters count as unexplained, so a
    decoding that yields them (Latin-1 for cp1252's quotes, an 8-bit reading of UTF-16)
    scores low.
    """
    # Composed first: a combining accent that a wrong encoding put after a letter ("arriv" and
    # U+0323 for Italian "arrivò" read as cp1258) becomes the accented letter it makes.
    text = unicodedata.normalize("NFC", text)
    counts = Counter(text)
    letters: Counter[str] = Counter()
    mixed = Counter(_NEXT_TO_ASCII_LETTER.findall(text))
    unexplained = len(_INNER_SYMBOL.findall(text))
    for char, n in counts.items():
        if char.isascii() and char.isprintable() or char in "\t\n\r\f\v":
            continue
        if char.isalpha():
            lower = char.lower()
            letters[lower if len(lower) == 1 else char] += n
        elif unicodedata.category(char) == "Cc":
            unexplained += n
    total = sum(letters.values()) + unexplained
    if total == 0:
        return 1.0
    explained = max(
        *(sum(n for char, n in letters.items() if char in alphabet) for alphabet in _ALPHABETS.values()),
        *(_in_script(letters, mixed, prefixes) for prefixes in _SCRIPTS.values()),
    )
    return explained / total


def _in_script(letters: Counter[str], mixed: Counter[str], prefixes: tuple[str, ...]) -> int:
    """Letters of a script other than Latin, except those inside a word of Latin letters ("cafщ")."""
    return sum(
        n - mixed[char] - mixed[char.upper()] for char, n in letters.items() if unicodedata.name(char, "").startswith(prefixes)
    )


def _decode(data: bytes, encoding: str) -> str | None:
    """`data` decoded strictly (a character cut at the end of the sample is left out), or None."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(data, final=False)
    except (UnicodeDecodeError, LookupError):
        return None


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name.replace("-", "_")
    except LookupError:
        return name


def _name(encoding: str) -> str:
    return {LATIN_1: "Latin-1", "iso8859_15": "Latin-9"}.get(encoding, encoding)


def _differences(chosen: str, other: str, most: int = 3) -> str:
    """A few words that the two readings spell differently: 'forêt' or 'foręt'."""
    pairs = []
    for a, b in zip(chosen.split(), other.split()):
        if a != b and (a, b) not in pairs:
            pairs.append((a, b))
            if len(pairs) == most:
                break
    return ", ".join(f"{a!r} or {b!r}" for a, b in pairs) or "the texts differ"
