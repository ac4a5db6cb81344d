"""Haystack filters as a query on the search index's fields, where it means what the SQL means.

store.filters turns a filter into SQL, and SQLite decides it exactly; but to use that SQL the
store must scan every passage (about half a second at a million), whatever the filter keeps.
The search index (store.search_index) holds what a filter most often names, so tantivy can
apply it while it ranks: the integer columns `page_number`, `split_id` and `file_id` of
indexed passages as integer fields, `file_path` through the file ids it selects, and every
scalar of a passage's JSON `meta` as a term (`meta_terms`). This module translates a filter
into a query on those fields when the query keeps exactly the passages the SQL keeps, and
answers None otherwise (the store then asks SQLite, as before):

- ==, !=, in and not in on strings, numbers and booleans, with SQLite's `IS`: a JSON true
  is the integer 1, 2 IS 2.0, a string never equals a number, a missing key is NULL (so !=
  keeps it);
- <, <=, >, >= on numbers, for the three integer columns, unless a document written through
  the protocol (no file: its structural keys live in its JSON) holds that key;
- AND, OR and NOT of those (every condition is two-valued, as in store.filters).

Left to SQLite: `id` and `content`, None and list or dict values, strings that look like
JSON arrays or objects (json_extract gives those as JSON text), ordering on strings (dates)
and on JSON keys, `split_idx_start`, and values too long to be a term.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterator
from typing import Any

# A term of `meta_terms`: the key's JSON path as store.document_store writes it, this
# separator, a type letter (s: text, n: number) and the value; the path and the separator
# alone say "this passage has this key" (any value: null, a list, an object).
SEPARATOR = "\x1e"
# Longer values are not indexed (tantivy's terms are limited to 64 KB): such a value never
# equals a shorter one, and a filter naming one is left to SQLite.
LONGEST = 2_000
# Filter key -> the search index's integer field for indexed passages' column.
INTEGER_FIELDS = {"page_number": "page", "split_id": "ordinal", "file_id": "file_id"}
# The keys an indexed passage keeps in columns, not in its JSON (store.document_store).
STRUCTURAL_KEYS = frozenset({"file_id", "page_number", "split_id", "split_idx_start", "file_path"})

_INT64 = 2**63


def json_path(parts: list[str]) -> str:
    """The key path as SQLite's json_extract() names it, labels written as the JSON column writes
    keys (json.dumps escapes non-ASCII, backslashes and control characters): SQLite before
    3.45 compares a label with the key's text as stored. The SQL filters and the index's terms
    both use it, so they name a key alike."""
    return "$" + "".join(f'."{json.dumps(part)[1:-1]}"' for part in parts)


def meta_terms(meta: dict[str, Any], skip: Collection[str] = ()) -> Iterator[str]:
    """The `meta_terms` of a passage whose JSON meta is `meta` (keys in `skip` are columns)."""

    def walk(value: Any, parts: list[str]) -> Iterator[str]:
        path = json_path(parts)
        yield path + SEPARATOR
        if isinstance(value, dict):
            for key, inner in value.items():
                yield from walk(inner, [*parts, str(key)])
            return
        term = _value_term(value)
        if term is not None:
            yield path + SEPARATOR + term

    for key, value in meta.items():
        if key not in skip:
            yield from walk(value, [str(key)])


def _value_term(value: Any) -> str | None:
    """The type letter and text of a scalar as SQLite compares it with IS; None for what is
    not a scalar (null, a list) or too long to index."""
    if isinstance(value, str):
        return "s" + value if len(value) <= LONGEST else None
    if isinstance(value, bool):
        return "n" + str(int(value))
    if isinstance(value, int):
        # Past 64 bits SQLite reads a JSON integer as a real.
        return "n" + str(value) if -_INT64 <= value < _INT64 else _value_term(float(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) < _INT64:
            return "n" + str(int(value))
        return "n" + repr(value)
    return None


class Untranslatable(Exception):
    """The filter may mean something else on the index: SQLite decides it."""


class Translator:
    """Builds tantivy queries for the filters of one search on one index snapshot.

    `file_ids_with_path(values)`: the ids of the files whose path IS one of `values` (SQL on
    the small files table); `has_key(path)`: whether any passage's JSON has the key (so the
    integer fields do not hold every value a filter on it would see).
    """

    def __init__(self, schema: Any, file_ids_with_path: Callable[[list[str]], list[int]], has_key: Callable[[str], bool]) -> None:
        self._schema = schema
        self._file_ids_with_path = file_ids_with_path
        self._has_key = has_key

    def query(self, filters: dict[str, Any]) -> Any | None:
        """The query keeping exactly the passages `filters` keep, or None. `filters` must be
        valid (store.filters.to_sql has checked it)."""
        try:
            return self._node(filters)
        except Untranslatable:
            return None

    def _node(self, node: dict[str, Any]) -> Any:
        import tantivy

        if "field" not in node:
            parts = [self._node(condition) for condition in node["conditions"]]
            if node["operator"] == "OR":
                return tantivy.Query.boolean_query([(tantivy.Occur.Should, p) for p in parts]) if parts else tantivy.Query.empty_query()
            every = tantivy.Query.boolean_query([(tantivy.Occur.Must, p) for p in parts]) if parts else tantivy.Query.all_query()
            return every if node["operator"] == "AND" else _not(every)
        name, operator, value = node["field"], node["operator"], node["value"]
        if not name.startswith("meta."):
            raise Untranslatable  # id, content: not in the index
        parts = name[len("meta.") :].split(".")
        key = parts[0] if len(parts) == 1 else None
        if operator in ("==", "!=", "in", "not in"):
            values = value if operator in ("in", "not in") else [value]
            equal = self._equal_any(parts, key, values)
            return equal if operator in ("==", "in") else _not(equal)
        return self._ordering(parts, key, operator, value)

    def _equal_any(self, parts: list[str], key: str | None, values: list[Any]) -> Any:
        import tantivy

        if key in STRUCTURAL_KEYS and key not in INTEGER_FIELDS and key != "file_path":
            raise Untranslatable  # split_idx_start: a column the index does not hold
        path = json_path(parts)
        clauses = []
        texts = []
        for value in values:
            if value is None or isinstance(value, (list, dict)):
                raise Untranslatable
            if isinstance(value, str) and (len(value) > LONGEST or value[:1] in ("[", "{")):
                raise Untranslatable
            term = _value_term(value)
            if term is None:
                raise Untranslatable
            texts.append(path + SEPARATOR + term)
            if key in INTEGER_FIELDS and term[0] == "n" and "." not in term and "e" not in term:
                number = int(term[1:])
                clauses.append(tantivy.Query.term_query(self._schema, INTEGER_FIELDS[key], number))
        if key == "file_path":
            ids = self._file_ids_with_path([v for v in values if isinstance(v, str)])
            if ids:
                clauses.append(tantivy.Query.term_set_query(self._schema, "file_id", ids))
        # The JSON of a passage: every key of a protocol document, the user's keys of an
        # indexed passage (its structural keys are columns and are not among its terms).
        clauses.append(tantivy.Query.term_set_query(self._schema, "meta_terms", texts))
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, c) for c in clauses])

    def _ordering(self, parts: list[str], key: str | None, operator: str, value: Any) -> Any:
        import tantivy

        if value is None:
            return tantivy.Query.empty_query()  # store.filters: nothing is greater or less than None
        if key not in INTEGER_FIELDS or isinstance(value, str) or not isinstance(value, (int, float)):
            raise Untranslatable
        if self._has_key(json_path(parts)):
            raise Untranslatable  # a protocol document's value, of any type, lives in its JSON
        if isinstance(value, float) and (not math.isfinite(value) or abs(value) >= 2**62):
            raise Untranslatable
        # Integer bounds equivalent to the comparison of an integer column with `value`.
        if operator == "<":
            lower, upper = None, math.ceil(value) - 1
        elif operator == "<=":
            lower, upper = None, math.floor(value)
        elif operator == ">":
            lower, upper = math.floor(value) + 1, None
        else:
            lower, upper = math.ceil(value), None
        return tantivy.Query.range_query(self._schema, INTEGER_FIELDS[key], tantivy.FieldType.Integer, lower, upper, use_inverted_index=True)


def _not(query: Any) -> Any:
    import tantivy

    return tantivy.Query.boolean_query([(tantivy.Occur.Must, tantivy.Query.all_query()), (tantivy.Occur.MustNot, query)])
