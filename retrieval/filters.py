"""Metadata filters in Chroma's `where` syntax, evaluated in memory for the lexical indexes.

Supported: {"field": value} (equality), {"field": {"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte"|
"$in"|"$nin": ...}}, and {"$and": [...]}, {"$or": [...]}. The same dict is passed to Chroma
for the dense index, so one filter means the same thing for every retriever.
"""

from __future__ import annotations

from typing import Any

from retrieval.errors import UserInputError

_OPS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"}


def _compare(value: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return bool(value == arg)
    if op == "$ne":
        return bool(value != arg)
    if op == "$in":
        return value in arg
    if op == "$nin":
        return value not in arg
    if value is None:
        return False
    try:
        if op == "$gt":
            return bool(value > arg)
        if op == "$gte":
            return bool(value >= arg)
        if op == "$lt":
            return bool(value < arg)
        if op == "$lte":
            return bool(value <= arg)
    except TypeError:
        return False
    raise UserInputError(f"unknown filter operator {op!r}; use one of {sorted(_OPS)}")


def validate_where(where: dict[str, Any]) -> None:
    if not isinstance(where, dict) or not where:
        raise UserInputError("a filter must be a non-empty dict, e.g. {'speaker': 'Marketing'}")
    for key, cond in where.items():
        if key in ("$and", "$or"):
            if not isinstance(cond, list) or not cond:
                raise UserInputError(f"{key} takes a non-empty list of filters")
            for sub in cond:
                validate_where(sub)
        elif key.startswith("$"):
            raise UserInputError(f"unknown filter key {key!r}; use $and / $or or a field name")
        elif isinstance(cond, dict):
            for op in cond:
                if op not in _OPS:
                    raise UserInputError(
                        f"unknown filter operator {op!r} for {key!r}; use one of {sorted(_OPS)}"
                    )


def matches(metadata: dict[str, Any], where: dict[str, Any]) -> bool:
    for key, cond in where.items():
        if key == "$and":
            if not all(matches(metadata, sub) for sub in cond):
                return False
        elif key == "$or":
            if not any(matches(metadata, sub) for sub in cond):
                return False
        elif isinstance(cond, dict):
            value = metadata.get(key)
            if not all(_compare(value, op, arg) for op, arg in cond.items()):
                return False
        elif metadata.get(key) != cond:
            return False
    return True


def combine(doc_ids: list[str] | None, where: dict[str, Any] | None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if doc_ids is not None:
        clauses.append({"doc_id": {"$in": list(doc_ids)}})
    if where:
        clauses.append(where)
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
