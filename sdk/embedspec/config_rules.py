"""Rules every component config follows: numbers are numbers, finite, and bounded.

Pydantic's lax mode takes ``true`` for ``1``, ``256.0`` for an int, ``1`` for ``true`` and ``!!binary``
bytes for text; a spec must not. ``type_problem`` checks one field value against its annotation
(through ``Optional``/``Union``/``Annotated`` and lists, tuples and dicts): a boolean where a number is
expected, a number where a boolean is expected, a float where an integer is expected, bytes where
text is expected, or an integer beyond 64 bits is a problem. Strings that hold numbers or booleans
stay accepted, since ``${VAR}`` interpolation yields strings. Non-finite floats are refused by ``allow_inf_nan=False`` on
``ComponentConfig``; each config bounds its own fields (vector dimensions at most ``MAX_DIM``).
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

#: Largest vector dimension a spec may ask for (Qdrant's limit too).
MAX_DIM = 65_536
#: Largest seed (NumPy's and scikit-learn's ``random_state`` take 32-bit seeds).
MAX_SEED = 2**32 - 1
#: Largest integer any field takes.
MAX_INT = 2**63 - 1

_SEQUENCES = (list, tuple, set, frozenset, Sequence)
_MAPPINGS = (dict, Mapping)


def _options(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, through ``Annotated``, ``Optional`` and ``Union``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _options(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [o for a in get_args(annotation) for o in _options(a)]
    return [annotation]


def _takes_number(option: Any) -> bool:
    if option is int or option is float:
        return True
    if get_origin(option) is Literal:
        return any(isinstance(a, (int, float)) and not isinstance(a, bool) for a in get_args(option))
    return False


def _takes_bool(option: Any) -> bool:
    if option is bool or option is Any or option is object:
        return True
    return get_origin(option) is Literal and any(isinstance(a, bool) for a in get_args(option))


def type_problem(value: Any, annotation: Any) -> str | None:
    """Why ``value`` does not have the type ``annotation`` strictly asks for, or ``None``."""
    options = _options(annotation)
    if any(o is Any or o is object for o in options):
        return None
    numeric = [o for o in options if _takes_number(o)]
    if isinstance(value, bool):
        if numeric and not any(_takes_bool(o) for o in options):
            return "expected a number, not a boolean"
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not numeric and bool in options:
        return "expected true or false, not a number"
    if isinstance(value, (bytes, bytearray)) and bytes not in options:
        return "expected text, not binary data"
    if isinstance(value, int) and numeric and abs(value) > MAX_INT:
        return f"the number is too large (at most {MAX_INT:,})"
    if isinstance(value, float) and int in options and float not in options and not any(
        get_origin(o) is Literal for o in numeric
    ):
        return "expected an integer, not a float"
    if isinstance(value, (list, tuple)):
        for option in options:
            origin = get_origin(option)
            if origin in _SEQUENCES:
                args = [a for a in get_args(option) if a is not Ellipsis]
                for i, item in enumerate(value):
                    if origin is tuple and len(args) > 1:
                        item_type = args[i] if i < len(args) else Any
                    else:
                        item_type = args[0] if args else Any
                    problem = type_problem(item, item_type)
                    if problem:
                        return f"item {i}: {problem}"
                break
    elif isinstance(value, dict):
        for option in options:
            if get_origin(option) in _MAPPINGS and len(get_args(option)) == 2:
                value_type = get_args(option)[1]
                for key, item in value.items():
                    problem = type_problem(item, value_type)
                    if problem:
                        return f"{key}: {problem}"
                break
    return None
