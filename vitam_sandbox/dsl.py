"""The part of VITAM's query DSL the sandbox evaluates (vitam-api.md §7.2), over JSON records.

SELECT MULTIPLE (units, objects): ``{"$roots": [], "$query": [<one query>], "$filter": {...},
"$projection": {...}}``, ``$projection`` mandatory. SELECT SINGLE (logbook, referentials):
``{"$query": {...}, "$filter": {...}, "$projection": {...}}``. Operators: ``$and``, ``$or``,
``$not``, ``$eq``, ``$ne``, ``$in``, ``$nin``, ``$exists``, ``$lt``, ``$lte``, ``$gt``, ``$gte``,
``$range``; a field holding a list matches when one of its values does. ``$filter``: ``$offset``,
``$limit`` (``$limit + $offset`` at most 10 000), ``$orderby``. ``$projection.$fields``: the
fields kept. Full-text operators (``$match``, ``$search``, ``$wildcard``...), several query
levels and facets are not reproduced (501), rather than answered wrongly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

MAX_WINDOW = 10000
_COMPARISONS = {
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
}
_NOT_REPRODUCED = ("$match", "$match_all", "$match_phrase", "$match_phrase_prefix", "$search", "$wildcard", "$regex")


class DslError(ValueError):
    """A query VITAM's DslScannerFilter would refuse (400)."""


class Unsupported(ValueError):
    """A valid query the sandbox does not evaluate (501)."""


def select_multiple(dsl: Any, source: Callable[[str | None], Iterable[dict[str, Any]]]) -> dict[str, Any]:
    """Run a SELECT MULTIPLE; ``source(opi)`` gives the candidates (all when ``opi`` is None)."""
    if not isinstance(dsl, dict):
        raise DslError("the query must be a JSON object")
    unknown = set(dsl) - {"$roots", "$query", "$filter", "$projection", "$facets", "$threshold"}
    if unknown:
        raise DslError(f"unknown keys: {', '.join(sorted(unknown))}")
    if not isinstance(dsl.get("$projection"), dict):
        raise DslError("$projection is mandatory")
    queries = dsl.get("$query", [])
    if not isinstance(queries, list):
        raise DslError("$query must be an array")
    if len(queries) > 1:
        raise Unsupported("several $query levels")
    if dsl.get("$facets"):
        raise Unsupported("$facets")
    roots = dsl.get("$roots", [])
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise DslError("$roots must be an array of identifiers")
    query = queries[0] if queries else {}
    _validate(query)
    records = [
        record
        for record in source(_opi(query))
        if matches(record, query) and (not roots or set(roots) & set(record.get("#allunitups", [])))
    ]
    return _answer(records, dsl)


def select_single(dsl: Any, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(dsl, dict):
        raise DslError("the query must be a JSON object")
    unknown = set(dsl) - {"$query", "$filter", "$projection"}
    if unknown:
        raise DslError(f"unknown keys: {', '.join(sorted(unknown))}")
    query = dsl.get("$query", {})
    if not isinstance(query, dict):
        raise DslError("$query must be an object in a SELECT SINGLE")
    _validate(query)
    if not isinstance(dsl.get("$projection", {}), dict):
        raise DslError("$projection must be an object")
    return _answer([r for r in records if matches(r, query)], dsl)


def matches(record: dict[str, Any], query: dict[str, Any]) -> bool:
    """Whether ``record`` satisfies ``query`` (already validated)."""
    for operator, argument in query.items():
        if operator in ("$depth", "$exactdepth"):
            continue
        if not _operator(record, operator, argument):
            return False
    return True


def _operator(record: dict[str, Any], operator: str, argument: Any) -> bool:
    if operator == "$and":
        return all(matches(record, q) for q in argument)
    if operator == "$or":
        return any(matches(record, q) for q in argument)
    if operator == "$not":
        return not any(matches(record, q) for q in argument)
    if operator == "$exists":
        return _values(record, argument) != []
    field, value = next(iter(argument.items()))
    found = _values(record, field)
    if operator == "$eq":
        return value in found
    if operator == "$ne":
        return value not in found
    if operator == "$in":
        return any(v in found for v in value)
    if operator == "$nin":
        return not any(v in found for v in value)
    if operator == "$range":
        return any(all(_compare(op, f, bound) for op, bound in value.items()) for f in found)
    return any(_compare(operator, f, value) for f in found)


def _compare(operator: str, found: Any, bound: Any) -> bool:
    try:
        return bool(_COMPARISONS[operator](found, bound))
    except TypeError:
        return False


def _values(record: dict[str, Any], field: str) -> list[Any]:
    current: list[Any] = [record]
    for part in field.split("."):
        following: list[Any] = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                following.extend(value if isinstance(value, list) else [value])
        current = following
    return current


def _validate(query: Any) -> None:
    if not isinstance(query, dict):
        raise DslError("a query must be an object")
    for operator, argument in query.items():
        if operator in ("$depth", "$exactdepth"):
            if not isinstance(argument, int):
                raise DslError(f"{operator} must be an integer")
        elif operator in ("$and", "$or", "$not"):
            if not isinstance(argument, list) or not argument:
                raise DslError(f"{operator} takes a non-empty array of queries")
            for item in argument:
                _validate(item)
        elif operator == "$exists":
            if not isinstance(argument, str):
                raise DslError("$exists takes a field name")
        elif operator in ("$eq", "$ne", "$in", "$nin", "$range", *_COMPARISONS):
            if not isinstance(argument, dict) or len(argument) != 1:
                raise DslError(f"{operator} takes one field")
            value = next(iter(argument.values()))
            if operator in ("$in", "$nin") and not isinstance(value, list):
                raise DslError(f"{operator} takes an array of values")
            if operator == "$range" and (not isinstance(value, dict) or set(value) - set(_COMPARISONS)):
                raise DslError("$range takes {$gt|$gte|$lt|$lte: value}")
        elif operator in _NOT_REPRODUCED:
            raise Unsupported(f"the {operator} operator")
        else:
            raise DslError(f"unknown operator {operator}")


def _opi(query: dict[str, Any]) -> str | None:
    """The operation a query is restricted to, so that the store reads only its records."""
    equals = query.get("$eq")
    if isinstance(equals, dict) and isinstance(equals.get("#opi"), str):
        return str(equals["#opi"])
    for item in query.get("$and", []):
        found = _opi(item)
        if found is not None:
            return found
    return None


def _sort_key(name: str, record: dict[str, Any]) -> str:
    return str(_values(record, name)[0])


def _answer(records: list[dict[str, Any]], dsl: dict[str, Any]) -> dict[str, Any]:
    filters = dsl.get("$filter", {})
    if not isinstance(filters, dict):
        raise DslError("$filter must be an object")
    offset, limit = filters.get("$offset", 0), filters.get("$limit", MAX_WINDOW)
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in (offset, limit)):
        raise DslError("$limit and $offset must be non-negative integers")
    if offset + limit > MAX_WINDOW:
        raise DslError(f"$limit + $offset must not exceed {MAX_WINDOW}")
    order = filters.get("$orderby", {})
    if not isinstance(order, dict) or any(direction not in (1, -1) for direction in order.values()):
        raise DslError("$orderby takes {field: 1 | -1}")
    for name, direction in reversed(list(order.items())):
        present = [r for r in records if _values(r, name)]
        absent = [r for r in records if not _values(r, name)]
        present.sort(key=functools.partial(_sort_key, name), reverse=direction == -1)
        records = present + absent
    page = records[offset : offset + limit]
    fields = [name for name, wanted in dsl.get("$projection", {}).get("$fields", {}).items() if wanted]
    if fields:
        page = [{name: record[name] for name in fields if name in record} for record in page]
    return {
        "httpCode": 200,
        "$hits": {"total": len(records), "offset": offset, "limit": limit, "size": len(page)},
        "$results": page,
        "$facetResults": [],
        "$context": dsl,
    }
