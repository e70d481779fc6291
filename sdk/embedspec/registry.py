"""Component registrations keyed by (kind, name), and a component's description as a spec block."""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .config_rules import type_problem
from .errors import PluginError, ResourceError, SpecError, UnknownComponentError
from .protocols import KIND_BY_NAME, KINDS, PLURALS

#: A component name as it appears after ``type:`` in a spec.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PROTOCOLS: dict[str, type] = {name: kind.protocol for name, kind in KIND_BY_NAME.items()}


#: ``json_schema_extra`` of a field holding a local path (``PathField``): a relative value in a spec
#: file resolves against the file's folder.
PATH_FORMAT = {"format": "path"}


def PathField(default: Any = ..., **kwargs: Any) -> Any:  # noqa: N802 - reads like pydantic's Field
    """A config field holding a local path (a directory or file). In a spec file, a relative path is
    resolved against the file's folder; values with a scheme (``hf://...``) are left as they are."""
    return Field(default, json_schema_extra=PATH_FORMAT, **kwargs)


def ComponentSlot(kind: str, default: Any = None, **kwargs: Any) -> Any:  # noqa: N802
    """A config field holding a nested component block (``{type: ..., ...}``) of ``kind``: the spec
    validates it like any block (with its lines), ``Registry.build`` builds it first and passes the
    built component as the parameter, ``Registry.describe`` writes it back as its block."""
    return Field(default, json_schema_extra={"component": kind}, **kwargs)


def component_slots(model: type[BaseModel]) -> dict[str, str]:
    """{field: kind} of the fields of ``model`` declared with ``ComponentSlot``."""
    out = {}
    for name, f in model.model_fields.items():
        extra = f.json_schema_extra
        if isinstance(extra, dict) and isinstance(extra.get("component"), str):
            out[name] = extra["component"]
    return out


def path_fields(model: type[BaseModel]) -> list[str]:
    """Names of the fields of ``model`` declared with ``PathField``."""
    return [n for n, f in model.model_fields.items() if f.json_schema_extra == PATH_FORMAT]


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


def _protocol_methods(kind: str) -> list[str]:
    """The methods (not properties) a class must define to implement ``kind``'s protocol."""
    return [n for n, v in vars(PROTOCOLS[kind]).items() if not n.startswith("_") and inspect.isfunction(v)]


def registration_problems(kind: str, name: Any, factory: Any, config_model: Any) -> list[str]:
    """Everything wrong with registering ``factory`` as the ``kind`` ``name`` (empty when valid)."""
    if kind not in PROTOCOLS:
        return [f"unknown component kind {kind!r} (kinds: {', '.join(KINDS)})"]
    label = f"{kind} {name!r}"
    problems = []
    if not isinstance(name, str) or not name:
        got = f", got {type(name).__name__}" if not isinstance(name, str) else ""
        problems.append(f"{label}: the name must be a non-empty string{got}")
    elif not NAME_PATTERN.fullmatch(name):
        problems.append(f"{label}: the name may hold only letters, digits, '.', '_' and '-' "
                        f"(starting with a letter or digit, at most 64 characters)")
    if not inspect.isclass(factory):
        problems.append(f"{label}: the factory must be a class, got {type(factory).__name__}")
    else:
        missing = [m for m in _protocol_methods(kind) if not callable(getattr(factory, m, None))]
        if missing:
            methods = ", ".join(f"{m}()" for m in missing)
            problems.append(f"{label}: {factory.__name__} lacks {methods} of the {PROTOCOLS[kind].__name__} protocol")
    if not (inspect.isclass(config_model) and issubclass(config_model, BaseModel)):
        got = config_model.__name__ if inspect.isclass(config_model) else type(config_model).__name__
        problems.append(f"{label}: the config model must be a pydantic BaseModel subclass, got {got}")
    elif "type" in config_model.model_fields:
        problems.append(f"{label}: the config model may not have a field named 'type' (the spec's `type:` key)")
    return problems


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

    def __post_init__(self) -> None:
        problems = registration_problems(self.kind, self.name, self.factory, self.config_model)
        if problems:
            raise PluginError("; ".join(problems), plugin=self.plugin, distribution=self.distribution)

    def create(self, config: BaseModel | dict[str, Any]) -> Any:
        """Build the component from a validated config (or a dict, validated here)."""
        if not isinstance(config, BaseModel):
            config = self.config_model.model_validate(config)
        component = self.factory(**{k: getattr(config, k) for k in type(config).model_fields})
        try:  # what it was built as: describe() looks it up by (kind, name)
            component._embedspec_type = self.name
            component._embedspec_kind = self.kind
        except AttributeError:  # objects with __slots__: describe() falls back to the factory class
            pass
        return component


class Registry:
    """All registered components, keyed by (kind, name). A name taken within a kind is refused with an
    error naming both plugins; registering is all-or-nothing (``add_all``)."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}

    def conflicts(self, regs: Iterable[Registration]) -> list[str]:
        """Why ``regs`` cannot all be added (names taken, or given twice among them); empty if they can."""
        problems: list[str] = []
        batch: dict[tuple[str, str], Registration] = {}
        for reg in regs:
            if reg.kind not in self._entries:
                problems.append(f"unknown component kind {reg.kind!r}")
                continue
            existing = self._entries[reg.kind].get(reg.name) or batch.get((reg.kind, reg.name))
            if existing is not None:
                problems.append(
                    f"{reg.kind} {reg.name!r} is registered twice: by plugin {existing.plugin!r} "
                    f"({existing.distribution}) and by plugin {reg.plugin!r} ({reg.distribution})"
                )
            batch[(reg.kind, reg.name)] = reg
        return problems

    def add_all(self, regs: Iterable[Registration]) -> None:
        """Add every registration of ``regs``, or none of them (``PluginError`` saying why)."""
        regs = list(regs)
        problems = self.conflicts(regs)
        if problems:
            raise PluginError(
                "; ".join(problems),
                plugin=regs[0].plugin if regs else None,
                distribution=regs[0].distribution if regs else None,
            )
        for reg in regs:
            self._entries[reg.kind][reg.name] = reg

    def add(self, reg: Registration) -> None:
        self.add_all([reg])

    def remove_plugin(self, plugin: str) -> list[Registration]:
        """Withdraw every component ``plugin`` registered; return them."""
        removed = [reg for reg in self if reg.plugin == plugin]
        for reg in removed:
            del self._entries[reg.kind][reg.name]
        return removed

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

    # ---- the one factory --------------------------------------------------------------------
    def validate(self, kind: str, block: Mapping[str, Any]) -> tuple[Registration, BaseModel]:
        """The registration named by ``block["type"]`` and its validated config (the other fields).

        Raises ``UnknownComponentError`` or pydantic's ``ValidationError`` (``embedspec.spec``
        turns both into located spec issues)."""
        if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
            raise SpecError(f"a {kind} block is a mapping with a 'type' (a registered {kind} name), got {block!r:.80}")
        reg = self.get(kind, block["type"])
        return reg, reg.config_model.model_validate({k: v for k, v in block.items() if k != "type"})

    def build(self, kind: str, block: Mapping[str, Any] | ValidatedBlock, *, read_only: bool = False,
              deep_check: bool = False, require_state: bool = True) -> Any:
        """The one way to make a component: validate ``block``, create it, check what its fields point
        at (``check()``), load its trained ``state``. ``block`` is a spec block (``type`` + fields) or an
        already validated one (``registration`` + ``config``, as ``embedspec.spec`` produces).

        ``read_only`` opens an index without creating or modifying anything; ``require_state=False``
        makes an untrained component (to ``fit`` it). A ``ResourceError`` (with the field at fault)
        reports a broken resource or missing state; nothing stays open.
        """
        if isinstance(block, Mapping):
            reg, config = self.validate(kind, block)
            children: Mapping[str, Any] = {}
        else:
            reg, config = block.registration, block.config
            children = getattr(block, "children", {}) or {}
        parts = {}
        for field, slot_kind in component_slots(reg.config_model).items():  # nested blocks first
            value = getattr(config, field)
            if field in children:
                parts[field] = self.build(slot_kind, children[field], deep_check=deep_check)
            elif isinstance(value, Mapping):
                parts[field] = self.build(slot_kind, value, deep_check=deep_check)
        if parts:
            config = config.model_copy(update=parts)
        component = reg.create(config)
        if read_only:
            component.read_only = True
        try:
            check = getattr(component, "check", None)
            if callable(check):
                check(deep=deep_check)
            _load_state(component, reg, require_state)
        except BaseException:
            _close_quietly(component)
            raise
        return component

    def describe(self, component: Any) -> dict[str, Any]:
        """The spec block (``type`` + non-default fields) that rebuilds ``component``; nested components
        (``ComponentSlot`` fields) are written back as their own blocks."""
        reg = self.registration_of(component)
        values = {field: getattr(component, field) for field in reg.config_model.model_fields if hasattr(component, field)}
        for field in component_slots(reg.config_model):
            value = values.get(field)
            if value is not None and not isinstance(value, Mapping):
                values[field] = self.describe(value)
        config = reg.config_model.model_validate(values)
        return {"type": reg.name, **config.model_dump(mode="json", exclude_defaults=True)}

    def registration_of(self, component: Any) -> Registration:
        """The registration ``component`` was built from: by the (kind, name) recorded at creation, else
        by its class (narrowed by protocol when one class is registered under several kinds)."""
        kind = getattr(component, "_embedspec_kind", None)
        name = getattr(component, "_embedspec_type", None)
        if kind in self._entries and isinstance(name, str) and name in self._entries[kind]:
            return self._entries[kind][name]
        candidates = [r for r in self if r.name == name] if isinstance(name, str) else []
        candidates = [r for r in candidates if isinstance(component, r.factory)] or self.find_factory(type(component))
        if len(candidates) > 1:
            candidates = [r for r in candidates if isinstance(component, PROTOCOLS[r.kind])] or candidates
        if not candidates:
            raise PluginError(f"{type(component).__name__} is not a registered component")
        if len(candidates) > 1:
            which = ", ".join(f"{r.kind} {r.name!r}" for r in candidates)
            raise PluginError(f"{type(component).__name__} is registered as several components ({which}); "
                              f"build it from the registry so it records which one it is")
        return candidates[0]


class ValidatedBlock(Protocol):
    """A spec block already validated: its registration and config (``embedspec.spec.BlockSpec``)."""

    registration: Registration
    config: BaseModel


def _load_state(component: Any, reg: Registration, required: bool = True) -> None:
    """Load a trainable component's ``state`` directory; untrained encoders and aligners are errors
    (compressors may be fitted by the pipeline on the first documents)."""
    if not getattr(component, "requires_fit", False):
        return
    state = getattr(component, "state", None)
    if state and Path(state).is_dir():
        component.load(state)
    elif state and required:
        raise ResourceError(f"state directory {state} does not exist", field="state")
    if required and not component.is_fitted and reg.kind != "compressor":
        raise ResourceError(f"{reg.name} must be trained first: fit it and save(dir), then set `state: dir`",
                            field="state")


def _close_quietly(component: Any) -> None:
    close = getattr(component, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass
