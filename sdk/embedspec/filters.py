"""The payload filter model shared by every index.

A filter is a mapping of payload keys (dots reach into nested objects) to conditions, all of which
must hold::

    {"lang": "en"}                          equality (a list payload matches if any element equals)
    {"lang": {"eq": "en"}}                  the same, explicit
    {"year": {"gte": 2000, "lt": 2010}}     range: any of gt / gte / lt / lte
    {"tag": {"any": ["a", "b"]}}            any-of

Indexes translate the parsed ``Filter`` into their native form; ``Filter.matches`` is the reference
semantics (used by the ``exact`` index and by tests of every other index).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

RANGE_OPS = ("gt", "gte", "lt", "lte")
_MISSING = object()


@dataclass(frozen=True)
class Condition:
    key: str
    op: Literal["eq", "any", "range"]
    value: Any = None  # eq: a scalar; any: a tuple of scalars
    bounds: tuple[tuple[str, float], ...] = ()  # range: ((op, bound), ...)

    def matches(self, payload: Mapping[str, Any] | None) -> bool:
        value = lookup(payload, self.key)
        if value is _MISSING or value is None:
            return False
        values = value if isinstance(value, list) else [value]
        if self.op == "eq":
            return any(_in(v, (self.value,)) for v in values)
        if self.op == "any":
            return any(_in(v, self.value) for v in values)
        return any(_in_range(v, self.bounds) for v in values)


@dataclass(frozen=True)
class Filter:
    conditions: tuple[Condition, ...]

    def matches(self, payload: Mapping[str, Any] | None) -> bool:
        return all(c.matches(payload) for c in self.conditions)


def _in(v: Any, options: tuple[Any, ...]) -> bool:
    return any(v == o and (type(v) is bool) == (type(o) is bool) for o in options)


def _in_range(v: Any, bounds: tuple[tuple[str, float], ...]) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    for op, bound in bounds:
        if (
            (op == "gt" and not v > bound)
            or (op == "gte" and not v >= bound)
            or (op == "lt" and not v < bound)
            or (op == "lte" and not v <= bound)
        ):
            return False
    return True


def lookup(payload: Mapping[str, Any] | None, key: str) -> Any:
    """Value at dotted ``key`` in ``payload``, or a sentinel when absent."""
    node: Any = payload
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"filter {where}: expected a string, number or boolean, got {type(value).__name__}")


def parse_filter(spec: Mapping[str, Any] | Filter | None) -> Filter | None:
    """Validate a filter mapping; errors name the offending key."""
    if spec is None or isinstance(spec, Filter):
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(f"a filter is a mapping of payload keys to conditions, got {type(spec).__name__}")
    conditions: list[Condition] = []
    for key, cond in spec.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"filter keys are non-empty strings, got {key!r}")
        if not isinstance(cond, Mapping):
            conditions.append(Condition(key, "eq", _scalar(cond, f"key {key!r}")))
            continue
        ops = set(cond)
        unknown = ops - {"eq", "any", *RANGE_OPS}
        if unknown or not ops:
            raise ValueError(
                f"filter key {key!r}: unknown operator(s) {sorted(unknown) or '(none)'}; "
                f"use eq, any, or range operators {', '.join(RANGE_OPS)}"
            )
        if "eq" in ops:
            if len(ops) > 1:
                raise ValueError(f"filter key {key!r}: 'eq' cannot be combined with other operators")
            conditions.append(Condition(key, "eq", _scalar(cond["eq"], f"key {key!r}")))
        elif "any" in ops:
            if len(ops) > 1:
                raise ValueError(f"filter key {key!r}: 'any' cannot be combined with other operators")
            options = cond["any"]
            if not isinstance(options, (list, tuple)) or not options:
                raise ValueError(f"filter key {key!r}: 'any' takes a non-empty list")
            conditions.append(Condition(key, "any", tuple(_scalar(o, f"key {key!r}") for o in options)))
        else:
            bounds = []
            for op in RANGE_OPS:
                if op in cond:
                    b = cond[op]
                    if isinstance(b, bool) or not isinstance(b, (int, float)):
                        raise ValueError(f"filter key {key!r}: {op} takes a number, got {b!r}")
                    bounds.append((op, b))
            conditions.append(Condition(key, "range", bounds=tuple(bounds)))
    return Filter(tuple(conditions))
