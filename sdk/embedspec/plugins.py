"""Plugin discovery: built-ins first, then entry points of group ``embedspec``, then ``check_pending()``.

``EMBEDSPEC_PLUGINS=a,b`` restricts which external plugins (entry-point names) load. A plugin that
fails to import, or whose hook raises, is recorded in ``broken_plugins()`` and skipped.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .errors import PluginError
from .registry import ComponentConfig, Registration, Registry

ENTRY_POINT_GROUP = hookspecs.PROJECT
ENV_PLUGINS = "EMBEDSPEC_PLUGINS"
_HOOK_KINDS = {
    "register_encoders": "encoder",
    "register_indexes": "index",
    "register_aligners": "aligner",
    "register_compressors": "compressor",
}


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded or whose hook raised."""

    name: str
    distribution: str | None
    error: str


@dataclass
class _Origin:
    distribution: str | None
    version: str | None


class _State:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.origins: dict[str, _Origin] = {}
        self.broken: list[BrokenPlugin] = []
        self.registry = Registry()


_lock = threading.RLock()
_state: _State | None = None
_extra: dict[str, Any] = {}  # plugins registered at run time (tests, notebooks)


def _core_version() -> str | None:
    try:
        return md.version("embedspec")
    except md.PackageNotFoundError:
        return None


def _load_entry_points(state: _State) -> None:
    allowed = os.environ.get(ENV_PLUGINS)
    wanted = {n.strip() for n in allowed.split(",") if n.strip()} if allowed is not None else None
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        dist = ep.dist.name if ep.dist else None
        version = ep.dist.version if ep.dist else None
        if state.pm.has_plugin(ep.name):
            continue
        try:
            module = ep.load()
            state.pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin never takes the others down
            state.broken.append(BrokenPlugin(ep.name, dist, f"{type(exc).__name__}: {exc}"))
            warnings.warn(
                f"embedspec plugin {ep.name!r} ({dist}) failed to load and was skipped: {exc}",
                stacklevel=3,
            )
            continue
        state.origins[ep.name] = _Origin(dist, version)


def _collect(state: _State) -> None:
    for hook_name, kind in _HOOK_KINDS.items():
        hook = getattr(state.pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order: built-ins first
            plugin = impl.plugin_name
            origin = state.origins.get(plugin, _Origin(None, None))
            staged: list[Registration] = []

            def register(
                name: str,
                factory: Any,
                config_model: type[BaseModel] | None = None,
                *,
                _kind: str = kind,
                _plugin: str = plugin,
                _origin: _Origin = origin,
                _staged: list[Registration] = staged,
            ) -> None:
                if not isinstance(name, str) or not name:
                    raise PluginError(f"plugin {_plugin!r} registered a {_kind} with no name")
                _staged.append(
                    Registration(
                        name=name,
                        kind=_kind,
                        factory=factory,
                        config_model=config_model or ComponentConfig,
                        plugin=_plugin,
                        distribution=_origin.distribution,
                        version=_origin.version,
                    )
                )

            try:
                impl.function(register=register)
                for reg in staged:
                    state.registry.add(reg)
            except Exception as exc:
                state.broken.append(
                    BrokenPlugin(plugin, origin.distribution, f"{hook_name}: {type(exc).__name__}: {exc}")
                )
                warnings.warn(f"embedspec plugin {plugin!r} failed in {hook_name}: {exc}", stacklevel=3)


def load_plugins() -> Registry:
    """Load built-ins and installed plugins once; return the registry. Idempotent."""
    global _state
    with _lock:
        if _state is not None:
            return _state.registry
        state = _State()
        from .builtin import plugin as builtin_plugin

        state.pm.register(builtin_plugin, name="embedspec.builtin")
        state.origins["embedspec.builtin"] = _Origin("embedspec", _core_version())
        _load_entry_points(state)
        for name, obj in _extra.items():
            state.pm.register(obj, name=name)
            state.origins[name] = _Origin(None, None)
        state.pm.check_pending()
        _collect(state)
        _state = state
        return state.registry


def get_registry() -> Registry:
    return load_plugins()


def get_plugin_manager() -> pluggy.PluginManager:
    load_plugins()
    if _state is None:  # pragma: no cover - load_plugins sets it
        raise PluginError("plugins are not loaded")
    return _state.pm


def broken_plugins() -> list[BrokenPlugin]:
    load_plugins()
    return list(_state.broken) if _state else []


def register_plugin(obj: Any, name: str) -> None:
    """Register a plugin object (module or instance with hookimpls) at run time, e.g. in tests."""
    with _lock:
        _extra[name] = obj
        reset_plugins(keep_extra=True)


def unregister_plugin(name: str) -> None:
    with _lock:
        _extra.pop(name, None)
        reset_plugins(keep_extra=True)


def reset_plugins(*, keep_extra: bool = False) -> None:
    """Forget everything loaded; the next ``load_plugins()`` discovers again."""
    global _state
    with _lock:
        _state = None
        if not keep_extra:
            _extra.clear()
