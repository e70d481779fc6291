"""Component registrations keyed by (kind, name), and a component's description as a spec block."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from .config_rules import type_problem
from .errors import PluginError, UnknownComponentError
from .protocols import KINDS, PLURALS


class ComponentConfig(BaseModel):
    """Base of every component's config model: unknown fields are errors, numbers are numbers.

    A boolean is never a number (nor a number a boolean), an int field takes no float, text is not
    bytes, integers fit 64 bits and floats are finite (see ``embedspec.config_rules``); each model bounds its own fields (dims: ``le=MAX_DIM``).
    A ``ValidationError``'s text never quotes the input (it may hold a secret from the environment).
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), allow_inf_nan=False, hide_input_in_errors=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_types(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        problem = type_problem(value, field.annotation) if field is not None else None
        if problem:
            raise ValueError(problem)
        return value


@dataclass(frozen=True)
class Registration:
    """One registered component: its factory, the pydantic model of its spec block, its origin."""

    name: str
    kind: str
    factory: Callable[..., Any]
    config_model: type[BaseModel]
    plugin: str
    distribution: str | None = None
    version: str | None = None

    def create(self, config: BaseModel | dict[str, Any]) -> Any:
        """Build the component from a validated config (or a dict, validated here)."""
        if not isinstance(config, BaseModel):
            config = self.config_model.model_validate(config)
        component = self.factory(**{k: getattr(config, k) for k in type(config).model_fields})
        try:
            component._embedspec_type = self.name
        except AttributeError:  # objects with __slots__
            pass
        return component


class Registry:
    """All registered components. Duplicate names within a kind are errors naming both plugins."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}

    def add(self, reg: Registration) -> None:
        if reg.kind not in self._entries:
            raise PluginError(f"unknown component kind {reg.kind!r}", plugin=reg.plugin)
        existing = self._entries[reg.kind].get(reg.name)
        if existing is not None:
            raise PluginError(
                f"{reg.kind} {reg.name!r} is registered twice: by plugin {existing.plugin!r} "
                f"({existing.distribution}) and by plugin {reg.plugin!r} ({reg.distribution})",
                plugin=reg.plugin,
                distribution=reg.distribution,
            )
        self._entries[reg.kind][reg.name] = reg

    def get(self, kind: str, name: str) -> Registration:
        try:
            return self._entries[kind][name]
        except KeyError:
            known = sorted(self._entries.get(kind, {}))
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
            raise UnknownComponentError(
                f"unknown {kind} type {name!r}; {hint}known {PLURALS.get(kind, kind)}: {', '.join(known) or 'none'} "
                f"(run `embedspec plugins` to list every installed component)",
                name=name,
                kind=kind,
                suggestions=close,
            ) from None

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def __iter__(self) -> Iterator[Registration]:
        for kind in KINDS:
            yield from (self._entries[kind][n] for n in sorted(self._entries[kind]))

    def find_factory(self, factory: Any) -> list[Registration]:
        return [reg for reg in self if reg.factory is factory]


def describe(component: Any) -> dict[str, Any]:
    """The spec block (``type`` + non-default fields) that rebuilds ``component``."""
    from .plugins import get_registry

    registry = get_registry()
    name = getattr(component, "_embedspec_type", None)
    regs = [r for r in registry if r.name == name] if name else registry.find_factory(type(component))
    if not regs:
        raise PluginError(f"{type(component).__name__} is not a registered component")
    reg = regs[0]
    values = {
        field: getattr(component, field)
        for field in reg.config_model.model_fields
        if hasattr(component, field)
    }
    config = reg.config_model.model_validate(values)
    return {"type": reg.name, **config.model_dump(mode="json", exclude_defaults=True)}
