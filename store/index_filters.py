"""Haystack filters as a query on the search index's fields, where it means what the SQL means.

store.filters turns a filter into SQL, and SQLite decides it exactly; but to use that SQL the
store must scan every passage (about half a second at a million), whatever the filter keeps.
The search index (store.search_index) holds what a filter most often names, so tantivy can
apply it while it ranks: the integer columns `page_number`, `split_id`, `split_idx_start` and
`file_id` of indexed passages as integer fields, `file_path` through the file ids it
selects, `id` through the pks it selects, every scalar of a passage's JSON `meta` as a term
(`meta_terms`), and where each JSON value falls in SQLite's order (`meta_order`). This
module translates a filter into a query on those fields when the query keeps exactly the
passages the SQL keeps, and answers None otherwise (the store then asks SQLite, as before):

- ==, !=, in and not in on strings, numbers, booleans and None, with SQLite's `IS`: a JSON
  true is the integer 1, 2 IS 2.0, a string never equals a number, a missing key is NULL (so
  != keeps it, and == None keeps it), and so is an indexed passage's NULL column (a text
  file's `page_number`); on `id`, strings;
- <, <=, >, >= with a number, as SQLite compares json_extract's value with it: numbers by
  value, and text, arrays and objects (JSON text to SQLite) after every number;
- <, <=, >, >= with an ISO 8601 date, as store.filters compares julianday() of both sides,
  julianday() of each value computed by SQLite itself when it is indexed (of an integer
  column, the integer, where SQLite reads it as a Julian day number);
- AND, OR and NOT of those (every condition is two-valued, as in store.filters).

Lists and dicts are compared as SQLite compares them, as the JSON text json_extract() gives
(which a string of that text IS): each stored list or dict is a term of that text too.

`file_path` orderings are decided on the files table by SQLite (a few thousand rows at a
million passages), then asked of the index through the file ids they keep. A date compared
with a key where some passage holds 'now' (julianday() reads the clock) is decided for the
moment of translation: those passages pass where julianday('now') compares as the operator
says, and the translation is marked as reading the clock, to be made again for each search.

`content` ==, !=, in and not in: the index holds a bucket of a hash of each passage's text
(`text_term`), and SQLite says which passages of the value's bucket (a few at a million) have
that text; the filter is then on their pks, as for `id`. (The value's words would not do:
passages of the same words in another order are common where documents share a vocabulary,
61,878 of the 1M benchmark passages.)

A value too long to be a term (over LONGEST characters) is a term of its 256-bit hash
(`_long_term`).

Left to SQLite: `content` orderings, and `content` equal to a text whose bucket more than
_CANDIDATES_MOST passages share.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import sqlite3
import struct
import threading
from collections.abc import Callable, Collection, Iterator
from typing import Any, NamedTuple, Protocol

# A term of `meta_terms`: the key's JSON path as store.document_store writes it, this
# separator, a type letter (s: text, n: number) and the value; the path and the separator
# alone say "this passage has this key" (any value: null, a list, an object).
SEPARATOR = "\x1e"
# Longer values are indexed as their hash (tantivy's terms are limited to 64 KB; _long_term):
# such a value never equals a shorter one.
LONGEST = 2_000
# Filter key -> the search index's integer field for indexed passages' column.
INTEGER_FIELDS = {"page_number": "page", "split_id": "ordinal", "split_idx_start": "start", "file_id": "file_id"}
# Those whose ranges are read from the field's column: offsets have about as many values as
# passages, and merging the postings of each cost 45 ms at a million. Pages, positions and
# files have few values, and their postings are read.
_COLUMN_RANGES = frozenset({"start"})
# The keys an indexed passage keeps in columns, not in its JSON (store.document_store).
STRUCTURAL_KEYS = frozenset({"file_id", "page_number", "split_id", "split_idx_start", "file_path"})

_INT64 = 2**63

# A term of `meta_order`: the key's JSON path in hex, ".", a kind and, for a number or a
# date, its order key (`order_key`). Only [0-9a-z.]: tantivy-py builds a range over a text
# field only through its query parser, which reads these characters bare.
#   n<key>  the value is a number as json_extract gives it (true is 1)
#   j<key>  julianday() of the value, where it has one
#   t       the value is text, an array or an object, which SQLite orders after any number
#   x       julianday() of the value reads the clock ('now'): decided when the filter is (Translator)
# A number or a date also has coarse terms: the kind, the length L in hex and the key's first
# L characters, for L = 1..COARSE, as Lucene indexes numbers (a trie). A range is then a set of
# whole buckets plus a range inside one bucket of the finest level at each end: tantivy
# unions few postings, not one per distinct value, and the buckets' document counts bound the
# share of passages the range keeps before any search (Translator).
COARSE = 10
_ALPHABET = "0123456789abcdefmp"  # every character of an order key, in order


def json_path(parts: list[str]) -> str:
    """The key path as SQLite's json_extract() names it, labels written as the JSON column writes
    keys (json.dumps escapes non-ASCII, backslashes and control characters): SQLite before
    3.45 compares a label with the key's text as stored. The SQL filters and the index's terms
    both use it, so they name a key alike."""
    return "$" + "".join(f'."{json.dumps(part)[1:-1]}"' for part in parts)


def meta_terms(meta: dict[str, Any], skip: Collection[str] = ()) -> Iterator[tuple[str, str]]:
    """The terms (field, term) of a passage whose JSON meta is `meta` (keys in `skip` are columns)."""

    def walk(value: Any, parts: list[str]) -> Iterator[tuple[str, str]]:
        path = json_path(parts)
        yield "meta_terms", path + SEPARATOR
        ordered = list(_order_terms(value))
        if ordered:
            prefix = order_prefix(path)
            for term in ordered:
                yield "meta_order", prefix + term
        if isinstance(value, (list, dict)):
            yield "meta_terms", path + SEPARATOR + _json_term(value)
            if isinstance(value, dict):
                for key, inner in value.items():
                    yield from walk(inner, [*parts, str(key)])
            return
        term = _long_term(value) if isinstance(value, str) and len(value) > LONGEST else _value_term(value)
        if term is not None:
            yield "meta_terms", path + SEPARATOR + term

    for key, value in meta.items():
        if key not in skip:
            yield from walk(value, [str(key)])


def order_prefix(path: str) -> str:
    """What every `meta_order` term of the key at `path` starts with (no other key's does:
    hex digits never continue with '.')."""
    return path.encode("utf-8", "surrogatepass").hex() + "."


def _order_terms(value: Any) -> Iterator[str]:
    """Where json_extract's value falls in SQLite's order, and julianday() of it."""
    if value is None:
        return
    if isinstance(value, (str, list, dict)):
        yield "t"
        if not isinstance(value, str):
            return  # JSON text starting with [ or {: never a date
        if value.split("\x00", 1)[0].encode("utf-8", "surrogatepass").lower() == b"now":
            yield "x"
            return
    elif isinstance(value, (bool, int, float)):
        number = _sqlite_number(value)
        if number is None:
            return
        yield from _ordered("n", order_key(number))
        value = number
    else:
        return
    day = julianday(value)
    if day is not None:
        yield from _ordered("j", order_key(day))


def _ordered(kind: str, key: str) -> Iterator[str]:
    yield kind + key
    for length in range(1, COARSE + 1):
        yield kind + format(length, "x") + key[:length]


def _sqlite_number(value: bool | int | float) -> int | float | None:
    """The number json_extract gives for a JSON number: true is 1, an integer past 64 bits a
    real; None for what JSON cannot hold (inf, nan). (SQLite reads Python's repr of a float
    as the same double: 300,000 random doubles agree.)"""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else _sqlite_number(float(value))
    return value if math.isfinite(value) else None


_COMPLEMENT = str.maketrans("0123456789abcdef", "fedcba9876543210")


def order_key(number: int | float) -> str:
    """A text that sorts as `number` does among numbers (ints and floats compared exactly, as
    SQLite compares them): the sign, then the magnitude's integer part (its length first) and
    fraction's bits, complemented for a negative number."""
    negative = number < 0
    magnitude = -number if negative else number
    whole = math.floor(magnitude)
    # Exact: a positive float less its floor (Sterbenz); abs turns -0.0 into 0.0.
    fraction = abs(magnitude - whole) if isinstance(magnitude, float) else 0.0
    digits = format(whole, "x")
    # IEEE bits of a fraction in [0, 1) sort as the fraction does.
    key = format(len(digits), "03x") + digits + struct.pack(">d", fraction).hex()
    return "m" + key.translate(_COMPLEMENT) if negative else "p" + key


_MEMORY = threading.local()


def _memory() -> sqlite3.Connection:
    """This thread's in-memory SQLite, to ask SQLite itself how it reads a value."""
    connection = getattr(_MEMORY, "connection", None)
    if connection is None:
        connection = _MEMORY.connection = sqlite3.connect(":memory:")
    return connection


@functools.lru_cache(maxsize=65_536)
def julianday(value: str | int | float) -> float | None:
    """SQLite's julianday() of `value`, computed by SQLite (its own reading of dates, times
    and numbers), for values that do not read the clock."""
    day = _memory().execute("SELECT julianday(?)", (value,)).fetchone()[0]
    return None if day is None else float(day)


# Buckets of `text_term`: a term for each passage's own hash would add 22 MB to the index at a
# million passages (12%), 2^18 buckets add 5.4 MB and leave about 4 passages in a bucket there.
TEXT_BUCKET_BITS = 18


def text_term(text: str) -> str:
    """The `text_hash` term of a passage's text: its bucket of a BLAKE2b hash of its UTF-8
    (SQLite compares text byte for byte). The index keeps a passage equal to a value in the
    value's bucket, with about 1 in 2^18 of the others; SQLite decides on those."""
    return format(int.from_bytes(_blake2b(text, 8), "big") >> (64 - TEXT_BUCKET_BITS), "x")


def _blake2b(text: str, size: int) -> bytes:
    """BLAKE2b of a text's UTF-8 as SQLite holds it (lone surrogates kept), `size` bytes."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).digest()


def json_text(value: list[Any] | dict[str, Any]) -> str:
    """A list or dict as json_extract() gives it: the stored JSON of it without whitespace
    (store.filters compares with the same text)."""
    return json.dumps(value, separators=(",", ":"))


def _json_term(value: list[Any] | dict[str, Any]) -> str:
    """The type letter and text of a list or dict as json_extract() gives it (its hash when long)."""
    text = json_text(value)
    return "j" + text if len(text) <= LONGEST else _long_term(text)


def _long_term(text: str) -> str:
    """The term of a text too long to be one (a string, or a list's or dict's JSON text): "h"
    and its 256-bit BLAKE2b, which stands for the text as a content address does: no two texts
    with one such hash are known, and the chance that two of a million values share one by
    accident is about 2^-217."""
    return "h" + _blake2b(text, 32).hex()


# Lists and dicts as the database stores them (json.dumps), read back by json_extract().
_RENDERED = [["a", "b"], [1.0, 1e300, -0.0, 2**70, True, None, 0.1, 1e-7], {"k": "\u00e9", "x": [1, {"y": "\U0001f600"}]}, ['"q"', "\\", "/", "\t"], {}]


@functools.cache
def _json_as_python() -> bool:
    """Whether the SQLite linked here gives a list or dict as json_text() writes it. SQLite
    copies the stored numbers and strings as they are written (3.40); were a version to write
    them otherwise, equality with a list is left to SQLite."""
    connection = _memory()
    return all(connection.execute("SELECT json_extract(?, '$.v')", (json.dumps({"v": v}),)).fetchone()[0] == json_text(v) for v in _RENDERED)


def _value_term(value: Any) -> str | None:
    """The type letter and text of a scalar as SQLite compares it with IS; None for what is
    not a scalar (null, a list) or too long to index."""
    if isinstance(value, str):
        return "s" + value if len(value) <= LONGEST else None
    if not isinstance(value, (bool, int, float)):
        return None
    number = _sqlite_number(value)
    if number is None:
        return None
    if isinstance(number, float) and number.is_integer() and abs(number) < _INT64:
        number = int(number)  # 2 IS 2.0
    return "n" + (str(number) if isinstance(number, int) else repr(number))


class Untranslatable(Exception):
    """The filter may mean something else on the index: SQLite decides it."""


class Snapshot(Protocol):
    """What the translator reads of one state of the index (store.search_index.Snapshot)."""

    schema: Any
    passages: int

    def doc_freq(self, field: str, value: str | int) -> int: ...

    def parse(self, query: str) -> Any: ...

    def keeping(self, only: Any, most: int) -> list[int] | None: ...


class Translated(NamedTuple):
    query: Any  # keeps exactly the passages the filter keeps
    least: int  # it keeps at least and at most this many (from the index's counts: 0 and
    most: int  # every passage where they say nothing)
    reads_clock: bool = False  # exact only now: a date compared with a value of 'now'


class _Part(NamedTuple):
    query: Any
    least: int  # bounds on the passages it keeps
    most: int


class Translator:
    """Builds tantivy queries for the filters of one search on one index snapshot.

    `file_ids_with_path(values)`: the ids of the files whose path IS one of `values`;
    `file_ids_ordered(operator, value)`: the ids of the files whose path compares with `value`
    as store.filters compares it, those of the other files, and whether that answer read the
    clock (a path of 'now');
    `pks_with_id(values)`: the pks of the passages whose id is one of them;
    `pks_passing(pks, filters)`: those of `pks` whose passages `filters` keep (SQL on the files
    table, indexed columns and given passages).
    """

    def __init__(
        self,
        snapshot: Snapshot,
        file_ids_with_path: Callable[[list[str]], list[int]],
        file_ids_ordered: Callable[[str, Any], tuple[list[int], list[int], bool]],
        pks_with_id: Callable[[list[str]], list[int]],
        pks_passing: Callable[[list[int], dict[str, Any]], list[int]],
    ) -> None:
        self._snapshot = snapshot
        self._schema = snapshot.schema
        self._all = snapshot.passages
        self._file_ids_with_path = file_ids_with_path
        self._file_ids_ordered = file_ids_ordered
        self._pks_with_id = pks_with_id
        self._pks_passing = pks_passing
        self._now: float | None = None  # julianday('now'), once a translation needs it
        self._reads_clock = False  # whether this translation compared with it

    def query(self, filters: dict[str, Any]) -> Translated | None:
        """The query keeping exactly the passages `filters` keep, or None. `filters` must be
        valid (store.filters.to_sql has checked it)."""
        self._now = None
        self._reads_clock = False
        try:
            part = self._node(filters)
        except Untranslatable:
            return None
        return Translated(part.query, part.least, part.most, self._reads_clock)

    def _node(self, node: dict[str, Any]) -> _Part:
        import tantivy

        n = self._all
        if "field" not in node:
            parts = [self._node(condition) for condition in node["conditions"]]
            if node["operator"] == "OR":
                if not parts:
                    return _Part(tantivy.Query.empty_query(), 0, 0)
                return _Part(_any([p.query for p in parts]), max(p.least for p in parts), min(n, sum(p.most for p in parts)))
            every = tantivy.Query.boolean_query([(tantivy.Occur.Must, p.query) for p in parts]) if parts else tantivy.Query.all_query()
            least = max(0, sum(p.least for p in parts) - (len(parts) - 1) * n)
            most = min((p.most for p in parts), default=n)
            return _Part(every, least, most) if node["operator"] == "AND" else _negated(_Part(every, least, most), n)
        name, operator, value = node["field"], node["operator"], node["value"]
        if name == "id" and operator in ("==", "!=", "in", "not in"):
            equal = self._id_any(value if operator in ("in", "not in") else [value])
            return equal if operator in ("==", "in") else _negated(equal, n)
        if name == "content" and operator in ("==", "!=", "in", "not in"):
            equal = self._content_any(value if operator in ("in", "not in") else [value])
            return equal if operator in ("==", "in") else _negated(equal, n)
        if not name.startswith("meta."):
            raise Untranslatable  # the rest of content, and id's orderings: not in the index
        parts = name[len("meta.") :].split(".")
        key = parts[0] if len(parts) == 1 else None
        if operator in ("==", "!=", "in", "not in"):
            values = value if operator in ("in", "not in") else [value]
            if operator in ("!=", "not in") and any(v is None for v in values):
                # "Has a value, and none of the others", said without a NOT of every passage
                # but those without one: tantivy can then start from the passages that have
                # one (`page_number != None`: 0.3 ms against 9.5 at a million).
                present = self._present(parts, key)
                rest = [v for v in values if v is not None]
                if not rest:
                    return present
                other = self._equal_any(parts, key, rest)
                return _Part(_all([present.query, _not(other.query)]), max(0, present.least - other.most), min(present.most, n - other.least))
            equal = self._equal_any(parts, key, values)
            return equal if operator in ("==", "in") else _negated(equal, n)
        return self._ordering(parts, key, operator, value)

    def _id_any(self, values: list[Any]) -> _Part:
        if not all(isinstance(value, str) for value in values):
            raise Untranslatable  # the id column's TEXT affinity makes 3 equal '3'
        pks = self._pks_with_id(values)
        return _Part(terms_query(self._schema, "pk", pks), len(pks), len(pks))

    def _content_any(self, values: list[Any]) -> _Part:
        """The passages whose text IS one of `values`: SQLite decides on those of the values'
        buckets of `text_hash` (text_term), a few at a million passages."""
        import tantivy

        # A passage's text is never NULL (store.schema): None equals none of them.
        values = [value for value in values if value is not None]
        if not all(isinstance(value, str) for value in values):
            raise Untranslatable  # the text column's TEXT affinity makes 3 equal '3'
        if not values:
            return _Part(tantivy.Query.empty_query(), 0, 0)
        buckets = list(dict.fromkeys(text_term(value) for value in values))
        candidates = self._snapshot.keeping(terms_query(self._schema, "text_hash", buckets), _CANDIDATES_MOST)
        if candidates is None:
            raise Untranslatable
        pks = self._pks_passing(candidates, {"field": "content", "operator": "in", "value": values}) if candidates else []
        return _Part(terms_query(self._schema, "pk", pks), len(pks), len(pks))

    def _equal_any(self, parts: list[str], key: str | None, values: list[Any]) -> _Part:
        import tantivy

        path = json_path(parts)
        clauses = []
        counts = []  # of the passages each clause keeps, exactly
        uncounted = False  # a clause whose passages the index does not count
        texts = []
        for value in values:
            if value is None:
                present = self._present(parts, key)
                clauses.append(_not(present.query))
                if present.least == present.most:
                    counts.append(self._all - present.least)
                else:
                    uncounted = True
                continue
            if isinstance(value, (list, dict)) or (isinstance(value, str) and value[:1] in ("[", "{")):
                # json_extract gives a list or dict as JSON text, which a string of that text IS.
                if not _json_as_python():
                    raise Untranslatable
                # (An indexed passage's integer column never IS text; its path may: below.)
                text = json_text(value) if isinstance(value, (list, dict)) else value
                # (Too long for a term, a string and a list of that text have one hash.)
                for term in ("s" + text, "j" + text) if len(text) <= LONGEST else (_long_term(text),):
                    texts.append(path + SEPARATOR + term)
                    counts.append(self._snapshot.doc_freq("meta_terms", texts[-1]))
                continue
            term = _long_term(value) if isinstance(value, str) and len(value) > LONGEST else _value_term(value)
            if term is None:
                raise Untranslatable
            texts.append(path + SEPARATOR + term)
            counts.append(self._snapshot.doc_freq("meta_terms", texts[-1]))
            if key in INTEGER_FIELDS and term[0] == "n" and "." not in term and "e" not in term:
                number = int(term[1:])
                clauses.append(tantivy.Query.term_query(self._schema, INTEGER_FIELDS[key], number))
                counts.append(self._snapshot.doc_freq(INTEGER_FIELDS[key], number))
        if key == "file_path":
            ids = self._file_ids_with_path([json_text(v) if isinstance(v, (list, dict)) else v for v in values if isinstance(v, (str, list, dict))])
            if ids:
                clauses.append(terms_query(self._schema, "file_id", ids))
                counts.extend(self._snapshot.doc_freq("file_id", i) for i in ids)
        # The JSON of a passage: every key of a protocol document, the user's keys of an
        # indexed passage (its structural keys are columns and are not among its terms).
        clauses.append(terms_query(self._schema, "meta_terms", texts))
        return _Part(_any(clauses), max(counts, default=0), self._all if uncounted else min(self._all, sum(counts)))

    def _present(self, parts: list[str], key: str | None) -> _Part:
        """The passages where the key has a value: `IS NOT NULL` in store.filters."""
        import tantivy

        # json_extract gives NULL where the key is missing or null: where the key has no
        # text, array, object or number (the first character of a number's key); one value a
        # passage, so the three counts add up.
        prefix = order_prefix(json_path(parts))
        valued = [prefix + "t", prefix + "n1m", prefix + "n1p"]
        in_json = terms_query(self._schema, "meta_order", valued)
        if key not in STRUCTURAL_KEYS:
            count = sum(self._snapshot.doc_freq("meta_order", term) for term in valued)
            return _Part(in_json, count, count)
        # A key an indexed passage keeps in a column: a protocol document's JSON as above, an
        # indexed passage's column where its field is there (a file's path and id always are).
        files = tantivy.Query.exists_query("file_id")
        in_column = tantivy.Query.exists_query(INTEGER_FIELDS[key]) if key in INTEGER_FIELDS and key != "file_id" else files
        return _Part(_any([_all([_not(files), in_json]), in_column]), 0, self._all)

    def _ordering(self, parts: list[str], key: str | None, operator: str, value: Any) -> _Part:
        import tantivy

        if value is None:
            return _Part(tantivy.Query.empty_query(), 0, 0)  # store.filters: nothing is greater or less than None
        prefix = order_prefix(json_path(parts))
        # The pieces keep different passages (one value per key and passage; an indexed
        # passage's column key is not in its JSON, a protocol document has no column).
        if isinstance(value, str):
            # store.filters: julianday() of both sides (the value is an ISO 8601 date).
            day = julianday(value)
            if day is None:
                return _Part(tantivy.Query.empty_query(), 0, 0)
            pieces = [self._range(prefix + "j", operator, order_key(day)), self._clock_dates(prefix, operator, day)]
            if key in INTEGER_FIELDS:
                # julianday() of an indexed passage's column: the integer as a Julian day number,
                # where SQLite reads it as one (NULL past those).
                days = _integer_days()
                if days is None:
                    raise Untranslatable
                pieces.append(self._integer_range(INTEGER_FIELDS[key], operator, day, within=days))
        else:
            number = _sqlite_number(value)
            if number is None:
                raise Untranslatable
            pieces = [self._range(prefix + "n", operator, order_key(number))]
            if operator in (">", ">="):
                # Text, arrays and objects are greater than any number to SQLite.
                texts = self._snapshot.doc_freq("meta_order", prefix + "t")
                pieces.append(_Part(tantivy.Query.term_query(self._schema, "meta_order", prefix + "t"), texts, texts))
            if key in INTEGER_FIELDS:
                if abs(number) >= 2**62:
                    raise Untranslatable  # past tantivy's i64 bounds once rounded
                pieces.append(self._integer_range(INTEGER_FIELDS[key], operator, number))
        if key == "file_path":
            # An indexed passage's path is its file's: SQLite orders the files' paths.
            ids, others, reads_clock = self._file_ids_ordered(operator, value)
            self._reads_clock |= reads_clock
            count = sum(self._snapshot.doc_freq("file_id", i) for i in ids)
            if len(others) < len(ids):
                # Most files: the passages that have a file, but the others' (`file_path > 5`
                # at a million passages, every file: 1.20x the unfiltered question, where its
                # 4,501 ids as a term set cost 2.03x; bench/filters.py --meta).
                query = _all([tantivy.Query.exists_query("file_id"), _not(terms_query(self._schema, "file_id", others))]) if others else tantivy.Query.exists_query("file_id")
            else:
                query = terms_query(self._schema, "file_id", ids)
            pieces.append(_Part(query, count, count))
        kept = [p for p in pieces if p.most]
        return _Part(_any([p.query for p in kept]), sum(p.least for p in kept), min(self._all, sum(p.most for p in kept)))

    def _clock_dates(self, prefix: str, operator: str, day: float) -> _Part:
        """The passages whose value of the key is 'now', where julianday('now') compares with
        `day` as `operator` says at this moment (SQLite reads the clock once a statement, so a
        query made now keeps what SQL run now would)."""
        import tantivy

        count = self._snapshot.doc_freq("meta_order", prefix + "x")
        if not count:
            return _Part(tantivy.Query.empty_query(), 0, 0)
        self._reads_clock = True
        if self._now is None:
            self._now = float(_memory().execute("SELECT julianday('now')").fetchone()[0])
        if not _compare(self._now, operator, day):
            return _Part(tantivy.Query.empty_query(), 0, 0)
        return _Part(tantivy.Query.term_query(self._schema, "meta_order", prefix + "x"), count, count)

    def _range(self, kind: str, operator: str, key: str) -> _Part:
        """The `meta_order` terms of one kind (a prefix: path and kind letter) whose key
        compares with `key` as `operator` says: whole buckets of the coarse terms, and ranges
        of the finest terms in the bucket of the finest level where `key` falls."""
        low, high = (None, key) if operator in ("<", "<=") else (key, None)
        inclusive = operator in ("<=", ">=")
        ranges: list[str] = []
        least = most = 0

        def split(prefix: str, low: str | None, high: str | None) -> None:
            nonlocal least, most
            depth = len(prefix)
            if depth == COARSE:
                count = self._snapshot.doc_freq("meta_order", kind + format(depth, "x") + prefix)
                if count:
                    most += count
                    lower = ("[" if low is None or inclusive else "{") + kind + (low if low is not None else prefix)
                    upper = kind + (high if high is not None else prefix + "z") + ("]" if high is not None and inclusive else "}")
                    ranges.append(f"meta_order:{lower} TO {upper}")
                return
            run: list[str] = []  # this level's whole buckets: neighbours in the terms' order
            for char in _ALPHABET:
                if low is not None and char < low[depth]:
                    continue
                if high is not None and char > high[depth]:
                    break
                inner_low = low if low is not None and char == low[depth] else None
                inner_high = high if high is not None and char == high[depth] else None
                if inner_low is None and inner_high is None:
                    bucket = kind + format(depth + 1, "x") + prefix + char
                    count = self._snapshot.doc_freq("meta_order", bucket)
                    if count:
                        run.append(bucket)
                        least += count
                        most += count
                else:
                    split(prefix + char, inner_low, inner_high)
            if run:
                ranges.append(f"meta_order:[{run[0]} TO {run[-1]}]")

        split("", low, high)
        # A level's whole buckets are one range of its terms, not a term set: tantivy reads a
        # term set's terms by walking the dictionary, and every piece of the OR costs a pass
        # over its passages where a probe's few are asked about (Snapshot.passing: 1.2 against
        # 1.5 ms for `year >= 2000` at a million passages, bench/filters.py).
        return _Part(_any([self._snapshot.parse(r) for r in ranges]), least, most)

    def _integer_range(self, field: str, operator: str, value: int | float, within: tuple[int, int] | None = None) -> _Part:
        """Integer bounds equivalent to the comparison of an integer column with `value`, and
        inside `within` (first, last) where given."""
        import tantivy

        if operator == "<":
            lower, upper = None, math.ceil(value) - 1
        elif operator == "<=":
            lower, upper = None, math.floor(value)
        elif operator == ">":
            lower, upper = math.floor(value) + 1, None
        else:
            lower, upper = math.ceil(value), None
        if within is not None:
            lower, upper = max(within[0], lower if lower is not None else within[0]), min(within[1], upper if upper is not None else within[1])
            if lower > upper:
                return _Part(tantivy.Query.empty_query(), 0, 0)
        postings = field not in _COLUMN_RANGES
        query = tantivy.Query.range_query(self._schema, field, tantivy.FieldType.Integer, lower, upper, use_inverted_index=postings)
        # The columns are positions, pages, offsets and ids, never negative: count their values below
        # the bound (a passage above a lower bound is one of the rest).
        if upper is not None and upper < _COUNTED:
            count = sum(self._snapshot.doc_freq(field, v) for v in range(0, upper + 1))
            return _Part(query, count, count)
        if lower is not None and lower < _COUNTED:
            return _Part(query, 0, self._all - sum(self._snapshot.doc_freq(field, v) for v in range(0, max(lower, 0))))
        return _Part(query, 0, self._all)


def _compare(a: float, operator: str, b: float) -> bool:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]


def _integer_days() -> tuple[int, int] | None:
    """The integers SQLite's julianday() reads as Julian day numbers (itself: 0 to 5373484,
    the last day of 9999, on 3.40); None if this SQLite reads them otherwise."""
    first, last = 0, 5_373_484
    if julianday(first) == first and julianday(last) == last and julianday(first - 1) is None and julianday(last + 1) is None:
        return first, last
    return None


# The most passages SQLite decides a `content` filter on for the index (Translator._content_any):
# a text's bucket holds about 4 at a million passages, unless many passages have that text.
# Read by pk, a row costs about 2.5 us from the page cache and 100 us from disk (1M
# passages): 4,000 from disk cost about what SQLite's scan of every passage does (0.41 s).
_CANDIDATES_MOST = 4_000

# The most values of an integer column a bound is counted over (Translator._integer_range).
_COUNTED = 1_024  # at about 0.4 us a count


# Up to this many values, a set of terms is an OR of term queries: tantivy reads a term set
# by walking the field's dictionary (2.6 ms for 180 pks at a million passages), an OR of a
# few terms seeks their postings (0.6 ms; 3 us a term), and leads an intersection with a
# broad filter. 512 covers a probe's chunk (Snapshot.passing: at most 1.5 x top_k / 0.1).
_FEW_TERMS = 512


def terms_query(schema: Any, field: str, values: Collection[Any]) -> Any:
    """The passages with any of `values` among the terms of `field`."""
    import tantivy

    values = list(values)
    if len(values) > _FEW_TERMS:
        return tantivy.Query.term_set_query(schema, field, values)
    return _any([tantivy.Query.term_query(schema, field, value) for value in values])


def _any(queries: list[Any]) -> Any:
    """The OR of `queries`."""
    import tantivy

    if not queries:
        return tantivy.Query.empty_query()
    return queries[0] if len(queries) == 1 else tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])


def _all(queries: list[Any]) -> Any:
    """The AND of `queries`."""
    import tantivy

    return tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in queries])


def _negated(part: _Part, passages: int) -> _Part:
    return _Part(_not(part.query), passages - part.most, passages - part.least)


def _not(query: Any) -> Any:
    import tantivy

    return tantivy.Query.boolean_query([(tantivy.Occur.Must, tantivy.Query.all_query()), (tantivy.Occur.MustNot, query)])
