"""Haystack filter dictionaries -> SQL conditions.

Haystack's filter syntax (https://docs.haystack.deepset.ai/docs/metadata-filtering):
comparisons `{"field", "operator", "value"}` with ==, !=, >, >=, <, <=, in, not in, and
logical `{"operator": AND|OR|NOT, "conditions": [...]}`. The semantics follow Haystack's
reference implementation (`haystack.utils.filters.document_matches_filter`), which treats a
missing field as None and never as "unknown": every condition built here is two-valued (it
is never SQL NULL), so NOT and != behave as they do in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, not_, or_, true

from store.errors import check_sqlite_int
from store.haystack_compat import FilterError

# Resolves a filter field ("content", "meta.page_number", ...) to an SQL expression.
FieldResolver = Callable[[str], ColumnElement[Any]]

_ORDERING = {">", ">=", "<", "<="}


def to_sql(filters: dict[str, Any], field: FieldResolver) -> ColumnElement[bool]:
    """Translate one Haystack filter dictionary; raises FilterError for a malformed one."""
    if not isinstance(filters, dict):
        raise FilterError(f"a filter must be a dictionary, got {filters!r}")
    if "field" in filters:
        return _comparison(filters, field)
    if "operator" not in filters:
        raise FilterError(f"'operator' key missing in {filters}")
    if "conditions" not in filters:
        raise FilterError(f"'conditions' key missing in {filters}")
    operator, conditions = filters["operator"], filters["conditions"]
    if not isinstance(conditions, list):
        raise FilterError(f"'conditions' must be a list, got {conditions!r}")
    parts = [to_sql(condition, field) for condition in conditions]
    if operator == "AND":
        return and_(true(), *parts)
    if operator == "OR":
        return or_(false(), *parts)
    if operator == "NOT":
        return not_(and_(true(), *parts))
    raise FilterError(f"unknown logical operator {operator!r}: use AND, OR or NOT")


def _comparison(condition: dict[str, Any], field: FieldResolver) -> ColumnElement[bool]:
    for key in ("operator", "value"):
        if key not in condition:
            raise FilterError(f"'{key}' key missing in {condition}")
    name, operator, value = condition["field"], condition["operator"], condition["value"]
    column = field(name)
    if operator == "==":
        return _two_valued(column.is_(_sql_value(value, name)))
    if operator == "!=":
        return _two_valued(column.is_not(_sql_value(value, name)))
    if operator in ("in", "not in"):
        if not isinstance(value, list):
            raise FilterError(f"'{operator}' needs a list value, got {value!r} for field {name!r}")
        values = [_sql_value(v, name) for v in value]
        matched = _two_valued(or_(false(), *(column.is_(v) for v in values)))
        # Negated after the coalesce: SQLAlchemy 2.1 negates a lone `a IS b` into `a IS b`.
        return matched if operator == "in" else not_(matched)
    if operator in _ORDERING:
        return _ordering(column, operator, value, name)
    raise FilterError(f"unknown comparison operator {operator!r} for field {name!r}")


def _ordering(column: ColumnElement[Any], operator: str, value: Any, name: str) -> ColumnElement[bool]:
    if value is None:
        return false()  # Haystack: nothing is greater or less than None
    if isinstance(value, (list, dict)):
        raise FilterError(f"'{operator}' cannot compare field {name!r} with {type(value).__name__} {value!r}")
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise FilterError(
                f"'{operator}' compares numbers or ISO 8601 dates; {value!r} for field {name!r} is neither"
            ) from None
        # julianday() parses ISO 8601 (with 'T', fractions and offsets) and gives NULL for
        # anything that is not a date, so dates compare as instants rather than as strings.
        column, value = func.julianday(column), func.julianday(literal(value))
    else:
        # A boolean orders as the integer it is (Python's, and Haystack's, True > 0); SQLAlchemy
        # would refuse `column < True`.
        value = _sql_value(int(value) if isinstance(value, bool) else value, name)
    compare = {">": column > value, ">=": column >= value, "<": column < value, "<=": column <= value}[operator]
    return _two_valued(compare)


def _sql_value(value: Any, name: str) -> Any:
    # json_extract() returns arrays and objects as compact JSON text.
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, int):
        check_sqlite_int("filters", value, subject=f"the value compared with {name!r}")
    return value


def _two_valued(condition: ColumnElement[Any]) -> ColumnElement[bool]:
    return func.coalesce(condition, 0) == 1
