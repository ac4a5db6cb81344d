"""The one tokenizer policy shared by indexing and querying.

The FTS5 index tokenizes passages with `porter unicode61 remove_diacritics 2`: Unicode
letters and digits form tokens, case and diacritics are folded, and Porter's stemmer is
applied. Queries go through the same FTS5 tokenizer (each query term is an FTS5 string,
stemmed by the index's tokenizer), so both sides always agree. `terms()` splits and folds
text as that tokenizer does, in Python, and has each word stemmed by FTS5 itself (an
in-memory FTS5 table read through fts5vocab; once per distinct word), for the tantivy index
(store.search_index) and the rank-bm25 backend, which must split documents and queries the
same way. (PyStemmer's "porter", used before, differs from FTS5's in edge cases: "ies" is
"i" to it and "ie" to FTS5, "-bly" words, doubled y's, words under 3 or over 64 characters.)
One difference is left: compatibility characters (ligatures, superscripts, full-width
letters) are decomposed here by NFKD and kept whole by unicode61; ingest.clean expands the
ligatures PDFs give before anything is indexed.

Stopwords are kept in the index (so phrases still match) and dropped from queries, where
they only add matches that carry almost no information.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata

# The English stopword list of NLTK's corpus (179 words), as used by bm25s and others.
STOPWORDS = frozenset(
    """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be been
    being have has had having do does did doing a an the and but if or because as until while of at
    by for with about against between into through during before after above below to from up down
    in out on off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will just don
    don't should should've now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn
    doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn mustn't needn
    needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't""".split()
)

# unicode61 token characters: letters, numbers (and, by default, nothing else).
_TOKEN = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without diacritics, as unicode61 with remove_diacritics 2 folds text."""
    if text.isascii():
        return text.lower()  # the same result, without a Python step per character (most text indexed)
    return _without_marks(unicodedata.normalize("NFKD", text.lower()))


# ASCII text: every character but a-z and 0-9 separates words, as _TOKEN has it; str.translate
# + split does in 3 us what the Unicode regex does in 28 (a 600-character passage), and the
# tantivy index tokenizes every passage indexed.
_ASCII_SEPARATORS = str.maketrans({i: " " for i in range(128) if not chr(i).isalnum()})
# The same on UTF-8 bytes (bytes of 128 and above are parts of other characters: kept). str.translate
# has no fast path for a string that is not ASCII: 25 us for a 600-character passage.
_ASCII_SEPARATOR_BYTES = bytes(b if b >= 128 or chr(b).isalnum() else ord(" ") for b in range(256))


def words(text: str) -> list[str]:
    """Folded words of `text`, before stemming: `_TOKEN.findall(fold(text))`."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered.translate(_ASCII_SEPARATORS).split()
    # One curly quote or accented name puts a passage here (most of real text). An ASCII
    # separator ends a word under both rules, so the text is split at those in C first and
    # only the pieces that are not ASCII go through the Unicode rule: 12 us instead of 42.
    # (Whitespace that str.split() cuts at is a separator under _TOKEN too.)
    # (surrogatepass: a lone surrogate, which a text decoded with surrogateescape holds, survives.)
    pieces = lowered.encode("utf-8", "surrogatepass").translate(_ASCII_SEPARATOR_BYTES).decode("utf-8", "surrogatepass").split()
    for i in reversed([i for i, ascii in enumerate(map(str.isascii, pieces)) if not ascii]):
        pieces[i : i + 1] = _TOKEN.findall(_without_marks(unicodedata.normalize("NFKD", pieces[i])))
    return pieces


def _without_marks(decomposed: str) -> str:
    return decomposed if decomposed.isascii() else "".join(c for c in decomposed if not unicodedata.combining(c))


# Every word stemmed so far, and its stem (a lookup a word, where asking SQLite costs about
# 2 us a word and 40 a call). Started afresh past _STEMS_KEPT words (tens of MB), so memory
# stays bounded.
_STEMS_KEPT = 500_000
_stems: dict[str, str] = {}
_FTS5 = threading.local()


def stems(tokens: list[str]) -> list[str]:
    """The stem of each of `tokens` (words of `words()`); the new ones are stemmed by FTS5 in
    one call, so a caller with many texts stems their new words in one call first."""
    global _stems
    known = _stems  # a thread that starts the dict afresh leaves this one whole
    try:
        return list(map(known.__getitem__, tokens))
    except KeyError:
        pass
    if len(known) > _STEMS_KEPT:
        known = _stems = {}
    new = [t for t in dict.fromkeys(tokens) if t not in known]
    known.update(zip(new, _fts5_terms(new)))
    return [known[t] for t in tokens]


def _fts5_terms(words: list[str]) -> list[str]:
    """The term FTS5's tokenizer makes of each of `words` (words of `words()`: one token each)."""
    from store.schema import FTS_TOKENIZER

    db = getattr(_FTS5, "db", None)
    if db is None:
        db = _FTS5.db = sqlite3.connect(":memory:")
        db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{FTS_TOKENIZER}')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    with db:
        db.execute("DELETE FROM t")
        db.execute("INSERT INTO t VALUES (?)", (" ".join(words),))
        found = [term for (term,) in db.execute("SELECT term FROM v ORDER BY offset")]
    if len(found) == len(words):
        return found
    # A word FTS5 splits or drops (words() and unicode61 disagree on it): each on its own, kept
    # as it is unless FTS5 makes exactly one term of it.
    if len(words) == 1:
        return found if len(found) == 1 else words
    return [_fts5_terms([word])[0] for word in words]


def terms(text: str, *, drop_stopwords: bool = False) -> list[str]:
    """Stemmed terms of `text`, as the FTS5 index sees them (optionally without stopwords)."""
    tokens = words(text)
    if drop_stopwords:
        tokens = [t for t in tokens if t not in STOPWORDS]
    return stems(tokens)


def query_words(question: str) -> list[str]:
    """The distinct folded words a question is searched by: its non-stopwords (or, failing
    those, all its words)."""
    tokens = words(question)
    kept = [t for t in tokens if t not in STOPWORDS] or tokens  # a question of stopwords only
    return list(dict.fromkeys(kept))


def match_expression(words: list[str]) -> str | None:
    """An FTS5 MATCH expression for query words (query_words()): each word quoted, OR-ed.

    Quoting makes every word an FTS5 string, so no user text can be read as FTS5 syntax
    (", *, NEAR, OR, AND, NOT, -, :, ^, parentheses). The index's tokenizer then stems each
    one. None when there is no word to search by.
    """
    if not words:
        return None
    return " OR ".join(f'"{t}"' for t in words)
