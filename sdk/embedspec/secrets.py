"""Credentials in specs: a ``Secret`` is never shown and is written back only as its ``${VAR}``.

Use ``Secret | None`` as the type of a config field that holds an API key or a token. A spec gives
it as ``${VAR}`` (the spec loader remembers the reference when it interpolates); ``repr``, ``str``,
``describe`` and error messages show the reference or ``**********``, never the value; writing the
spec back (``describe``, ``Pipeline.to_yaml``) gives the reference remembered at build time, or the
mask, with a ``SecretWarning``, for a secret given literally. A component reads the value with
``reveal()``, right where it hands it to its client library. Like Haystack's ``Secret``, but a
literal secret is masked rather than refused, so ``describe`` always works.
"""

from __future__ import annotations

import hmac
import os
import warnings
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo
from pydantic_core import core_schema

from .errors import SpecError

#: What a secret given literally is written back as.
MASK = "**********"
#: Validation context key: {interpolated value: the ``${VAR}`` text it came from} (set by the spec loader).
ENV_REFERENCES = "embedspec.env_references"


class SecretWarning(UserWarning):
    """A secret given literally was written back masked: the written spec will not authenticate."""


class Secret:
    """A credential: its value, and the ``${VAR}`` reference it came from (``None`` when literal)."""

    __slots__ = ("_reference", "_value")

    def __init__(self, value: str, reference: str | None = None) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret is a string, not {type(value).__name__}")
        self._value = value
        self._reference = reference

    @classmethod
    def from_env(cls, name: str) -> Secret:
        """The value of environment variable ``name`` now, remembered as ``${name}``."""
        if name not in os.environ:
            raise SpecError(f"environment variable {name} is not set")
        return cls(os.environ[name], f"${{{name}}}")

    @classmethod
    def coerce(cls, value: Secret | str | None) -> Secret | None:
        """``value`` as a ``Secret`` (a plain string becomes a literal secret); ``None`` stays ``None``."""
        if value is None or isinstance(value, Secret):
            return value
        return cls(value)

    def reveal(self) -> str:
        """The secret value itself: call this only where it is handed to the service that needs it."""
        return self._value

    @property
    def reference(self) -> str | None:
        """The ``${VAR}`` text the value came from, or ``None`` for a literal secret."""
        return self._reference

    def to_spec(self) -> str:
        """What a written spec holds: the reference, or ``MASK`` (with a ``SecretWarning``) when literal."""
        if self._reference is not None:
            return self._reference
        warnings.warn(
            f"a secret given literally is written back as {MASK!r}; write it as ${{VAR}} in the spec and set "
            "the environment variable",
            SecretWarning,
            stacklevel=3,
        )
        return MASK

    def __repr__(self) -> str:
        return f"Secret({self})"

    def __str__(self) -> str:
        return self._reference if self._reference is not None else MASK

    def __format__(self, format_spec: str) -> str:
        return format(str(self), format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        same = hmac.compare_digest(self._value.encode(), other._value.encode())
        return same and self._reference == other._reference

    def __hash__(self) -> int:
        return hash((Secret, self._reference))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is never pickled (it would be stored in clear)")

    # ---- pydantic ----------------------------------------------------------------------------
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda s: s.to_spec(), when_used="json"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "string", "format": "password", "writeOnly": True}

    @classmethod
    def _validate(cls, value: Any, info: ValidationInfo) -> Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise ValueError(f"a secret is a string (write ${{VAR}} in the spec), not {type(value).__name__}")
        if value == MASK:
            raise ValueError(f"this secret was written back as {MASK!r} (it was given literally); write ${{VAR}}")
        references = (info.context or {}).get(ENV_REFERENCES, {}) if isinstance(info.context, dict) else {}
        return cls(value, references.get(value))
