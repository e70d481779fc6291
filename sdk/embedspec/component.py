"""``Component``: what every registered component shares.

- **Parameters, declared once.** A component class names its config model in ``Config`` (a
  ``ComponentConfig``: the spec block without ``type``). The constructor validates keyword arguments
  against it and stores each field as an attribute of the same name, and does nothing else
  (scikit-learn's rule). ``get_params()`` reads them back; ``Registry.describe`` turns them into the
  spec block that rebuilds the component.
- **Warm-up.** Heavy work (sessions, clients, files) happens once, in the idempotent ``warm_up()``.
- **Learned state** is held in attributes ending in ``_``, written by ``save(dir)`` and read by
  ``load(dir)`` as JSON + ``.npz``, never pickle.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import ValidationError

from .errors import EmbedspecError, NotFittedError, SpecError
from .registry import ComponentConfig
from .storage import read_json, read_npz, write_json, write_npz

STATE_JSON = "embedspec-component.json"
STATE_NPZ = "state.npz"
#: Serializes warm-ups (rare, once per component) so concurrent first uses open a resource once.
_WARM_UP_LOCK = threading.RLock()


def _signature(config: type[ComponentConfig]) -> inspect.Signature:
    """``(self, *, field=default, ...)``: the constructor's signature, read from the config model."""
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name, field in config.model_fields.items():
        default = inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=field.annotation))
    return inspect.Signature(params)


def _problems(exc: ValidationError) -> str:
    """A pydantic error as one line per field: ``metric: Input should be ... (got 'l1')``."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "parameters"
        got = f" (got {err['input']!r:.60})" if "input" in err and err["type"] != "missing" else ""
        parts.append(f"{where}: {err['msg']}{got}")
    return "; ".join(parts)


class Component:
    """Parameters from ``Config``, warm-up, pickle-free learned state (see the module docstring)."""

    #: The parameters: a ``ComponentConfig`` subclass (what follows ``type:`` in a spec block).
    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    #: Whether ``fit`` (or ``load``) must run before the component can be used.
    requires_fit: ClassVar[bool] = False
    _warm: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in vars(cls) and "Config" in vars(cls):
            cls.__signature__ = _signature(cls.Config)  # type: ignore[attr-defined]  # help() and IDEs

    def __init__(self, **params: Any) -> None:
        """Validate ``params`` with ``Config`` and store each field as an attribute; nothing else."""
        try:
            config = self.Config.model_validate(params)
        except ValidationError as exc:
            raise SpecError(f"{type(self).__name__}: {_problems(exc)}") from None
        for name in type(config).model_fields:
            setattr(self, name, getattr(config, name))
        self._init_runtime()

    def _init_runtime(self) -> None:
        """Create empty private runtime state (locks, empty buffers): no I/O, no heavy import."""

    def get_params(self) -> dict[str, Any]:
        """The parameters as currently held, by name."""
        return {name: getattr(self, name) for name in self.Config.model_fields if hasattr(self, name)}

    # ---- warm-up and resources -----------------------------------------------------------
    def warm_up(self) -> None:
        """Do the heavy set-up (sessions, clients, files) once; later calls are no-ops (thread-safe)."""
        if not self._warm:
            with _WARM_UP_LOCK:
                if not self._warm:
                    self._warm_up()
                    self._warm = True

    def _warm_up(self) -> None:
        """Override to load heavy resources; called once by ``warm_up``."""

    def check(self, *, deep: bool = False) -> None:
        """Verify what the parameters point at (files, model directories) and raise ``ResourceError``
        naming the field at fault. ``build`` calls ``check()`` on every component before any work: keep
        it cheap, read-only and free of heavy imports. ``embedspec validate`` calls ``check(deep=True)``:
        then also load what can be loaded (a graph, a tokenizer) and compare it with what is declared.
        Neither level may create or modify anything."""

    # ---- learned state -------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return not self.requires_fit or any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(...) or load(dir) first")

    def get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Learned state: (arrays for the .npz, JSON-able values). Default: attributes ending in ``_``."""
        arrays: dict[str, np.ndarray] = {}
        values: dict[str, Any] = {}
        for key, value in vars(self).items():
            if not key.endswith("_") or key.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                arrays[key] = value
            else:
                values[key] = value
        return arrays, values

    def set_state(self, arrays: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> None:
        for key, value in {**values, **arrays}.items():
            setattr(self, key, value)

    def save(self, path: str | Path) -> Path:
        """Write the learned state to directory ``path`` (JSON + ``.npz``); parameters stay in the spec."""
        self.check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays, values = self.get_state()
        write_npz(path / STATE_NPZ, arrays)
        write_json(path / STATE_JSON, {"class": type(self).__name__, "state": values})
        return path

    def load(self, path: str | Path) -> Component:
        """Restore learned state saved by ``save`` into this instance; returns ``self``."""
        path = Path(path)
        if not path.is_dir():
            raise EmbedspecError(f"cannot load {type(self).__name__} state: directory {path} does not exist")
        self.set_state(*read_state(path))
        return self


def read_state(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, values) of the learned state ``Component.save`` wrote to directory ``path``."""
    path = Path(path)
    return read_npz(path / STATE_NPZ), read_json(path / STATE_JSON).get("state", {})
