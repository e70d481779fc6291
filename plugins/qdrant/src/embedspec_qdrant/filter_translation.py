"""The core filter model (``embedspec.filters.Filter``) translated into Qdrant filters.

Both Qdrant libraries have the same vocabulary (Filter, FieldCondition, MatchValue, MatchAny and a
range condition); ``FilterVocabulary`` names the classes of one of them. Semantics follow
``Filter.matches``:

- strings and ints match exactly (MatchValue / MatchAny); an int also matches an equal float
  payload (``3`` matches ``3.0``), so it is paired with a one-point range;
- floats match through a one-point range (Qdrant has no float MatchValue);
- bools match only bools (``True`` never matches ``1``);
- range bounds are gt / gte / lt / lte; dotted keys reach into nested objects; a list payload
  matches when any element does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from embedspec.filters import Condition, Filter


@dataclass(frozen=True)
class FilterVocabulary:
    """The Qdrant classes (or factories) a translation builds."""

    filter: Callable[..., Any]  # Filter(must=[...], should=[...])
    field_condition: Callable[..., Any]  # FieldCondition(key=, match=, range=)
    match_value: Callable[..., Any]  # MatchValue(value=)
    match_any: Callable[..., Any]  # MatchAny(any=[...])
    range: Callable[..., Any]  # Range(gt=, gte=, lt=, lte=)
    boolean: Callable[[bool], Any] = bool  # how a bool must be passed to MatchValue


def translate_filter(flt: Filter | None, vocab: FilterVocabulary) -> Any:
    """The Qdrant filter for ``flt`` (None for no filter)."""
    if flt is None or not flt.conditions:
        return None
    return vocab.filter(must=[_condition(c, vocab) for c in flt.conditions])


def _condition(cond: Condition, vocab: FilterVocabulary) -> Any:
    if cond.op == "range":
        bounds = {op: float(bound) for op, bound in cond.bounds}
        return vocab.field_condition(key=cond.key, range=vocab.range(**bounds))
    options = (cond.value,) if cond.op == "eq" else tuple(cond.value)
    alternatives = _any_of(cond.key, options, vocab)
    if len(alternatives) == 1:
        return alternatives[0]
    return vocab.filter(should=alternatives)


def _any_of(key: str, options: tuple[Any, ...], vocab: FilterVocabulary) -> list[Any]:
    """Conditions of which at least one must hold for the payload value at ``key`` to be an option."""
    strings = [o for o in options if isinstance(o, str)]
    bools = [o for o in options if isinstance(o, bool)]
    ints = [o for o in options if isinstance(o, int) and not isinstance(o, bool)]
    floats = [float(o) for o in options if isinstance(o, float)]
    out: list[Any] = []

    def field(**kw: Any) -> Any:
        return vocab.field_condition(key=key, **kw)

    if len(strings) == 1:
        out.append(field(match=vocab.match_value(value=strings[0])))
    elif strings:
        out.append(field(match=vocab.match_any(any=list(dict.fromkeys(strings)))))
    if len(ints) == 1:
        out.append(field(match=vocab.match_value(value=ints[0])))
    elif ints:
        out.append(field(match=vocab.match_any(any=list(dict.fromkeys(ints)))))
    for value in dict.fromkeys(bools):
        out.append(field(match=vocab.match_value(value=vocab.boolean(value))))
    # numbers stored as floats: a one-point range matches 3.0 for the option 3 or 3.0
    for value in dict.fromkeys([float(i) for i in ints if abs(i) < 2**53] + floats):
        out.append(field(range=vocab.range(gte=value, lte=value)))
    return out
