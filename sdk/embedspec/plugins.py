"""Plugin discovery and isolation: built-ins first, then entry points of group ``embedspec``, then
plugins registered at run time (tests, notebooks).

Each plugin loads whole or not at all. Whatever goes wrong with one (its import fails or calls
``sys.exit``, it defines a hook embedspec does not know, a hook raises, it registers an invalid
component or a name another plugin holds, its entry-point name is taken) refuses that plugin alone:
nothing it registered is kept, it is recorded in ``broken_plugins()`` with its distribution and
error, and every other plugin works. Only ``KeyboardInterrupt`` goes through.

``EMBEDSPEC_PLUGINS=a,b`` loads only those external plugins (entry-point names),
``EMBEDSPEC_PLUGINS_DISABLE=a,b`` skips those; names matching no installed plugin are warned about.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .errors import PluginError
from .protocols import COMPONENT_KINDS
from .registry import ComponentConfig, Registration, Registry, registration_problems

ENTRY_POINT_GROUP = hookspecs.PROJECT
ENV_PLUGINS = "EMBEDSPEC_PLUGINS"
ENV_PLUGINS_DISABLE = "EMBEDSPEC_PLUGINS_DISABLE"
BUILTIN = "embedspec.builtin"
_HOOK_KINDS = {k.hook: k.name for k in COMPONENT_KINDS}


class PluginWarning(UserWarning):
    """A plugin was refused, or an ``EMBEDSPEC_PLUGINS*`` variable names something it cannot use."""


def _origin(distribution: str | None, version: str | None) -> str:
    if distribution is None:
        return "registered at run time"
    return f"{distribution} {version}" if version else distribution


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that was refused: nothing it registered is kept."""

    name: str
    distribution: str | None
    error: str
    version: str | None = None

    @property
    def origin(self) -> str:
        """``"embedspec-x 0.1.0"``, or where it came from when no distribution is known."""
        return _origin(self.distribution, self.version)

    def summary(self) -> str:
        """One line: ``plugin 'x' (dist 0.1.0) was skipped: error``."""
        return f"plugin {self.name!r} ({self.origin}) was skipped: {self.error}"


@dataclass(frozen=True)
class SkippedPlugin:
    """An installed plugin left out by ``EMBEDSPEC_PLUGINS`` or ``EMBEDSPEC_PLUGINS_DISABLE``."""

    name: str
    distribution: str | None
    version: str | None
    reason: str


@dataclass(frozen=True)
class _Candidate:
    name: str
    distribution: str | None
    version: str | None
    source: str  # "name = module" for an entry point
    load: Callable[[], Any]

    @property
    def origin(self) -> str:
        return _origin(self.distribution, self.version)


@dataclass
class _State:
    pm: pluggy.PluginManager = field(default_factory=lambda: pluggy.PluginManager(hookspecs.PROJECT))
    registry: Registry = field(default_factory=Registry)
    broken: list[BrokenPlugin] = field(default_factory=list)
    skipped: list[SkippedPlugin] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # env-variable problems, shown once
    loaded: dict[str, _Candidate] = field(default_factory=dict)  # the plugins that loaded whole
    unshown: list[str] = field(default_factory=list)  # notices and broken plugins not shown yet

    def __post_init__(self) -> None:
        self.pm.add_hookspecs(hookspecs)

    def refuse(self, cand: _Candidate, error: str) -> None:
        broken = BrokenPlugin(cand.name, cand.distribution, " ".join(error.split()), cand.version)
        self.broken.append(broken)
        self.unshown.append(broken.summary())

    def notice(self, message: str) -> None:
        self.notices.append(message)
        self.unshown.append(message)


_lock = threading.RLock()
_state: _State | None = None
_extra: dict[str, Any] = {}  # plugins registered at run time (tests, notebooks)


def _explain(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r})"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _env_names(variable: str) -> list[str] | None:
    value = os.environ.get(variable)
    return None if value is None else [n.strip() for n in value.split(",") if n.strip()]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _precedence(ep: md.EntryPoint) -> tuple[bool, str, str]:
    """Load order: a distribution named ``embedspec-<entry point>`` owns that name, then by name."""
    dist = _canonical(ep.dist.name) if ep.dist else ""
    return (dist != _canonical(f"embedspec-{ep.name}"), ep.name, dist)


def _entry_point_candidates(state: _State) -> list[_Candidate]:
    """The entry points to load, in order; refuses name collisions, skips what the env leaves out."""
    points = sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=_precedence)
    installed = sorted({ep.name for ep in points})
    allow, deny = _env_names(ENV_PLUGINS), _env_names(ENV_PLUGINS_DISABLE)
    for variable, names in ((ENV_PLUGINS, allow), (ENV_PLUGINS_DISABLE, deny)):
        for name in dict.fromkeys(names or []):
            if name == BUILTIN and variable == ENV_PLUGINS_DISABLE:
                state.notice(f"{variable} names {name!r}: the built-in components cannot be disabled")
            elif name not in installed and name != BUILTIN:
                state.notice(f"{variable} names {name!r}, which matches no installed plugin "
                             f"(installed: {', '.join(installed) or 'none'}); ignored")
    owners: dict[str, _Candidate] = {}
    chosen = []
    for ep in points:
        cand = _Candidate(ep.name, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None,
                          f"{ep.name} = {ep.value}", ep.load)
        owner = owners.get(ep.name)
        if ep.name == BUILTIN:
            state.refuse(cand, f"the entry point name {BUILTIN!r} is reserved for the built-in components")
        elif owner is not None:
            state.refuse(cand, f"the entry point name {ep.name!r} is taken by {owner.origin} ({owner.source}); "
                               f"this one ({cand.source}) was not loaded: rename the entry point")
        elif deny and ep.name in deny:
            owners[ep.name] = cand
            state.skipped.append(SkippedPlugin(cand.name, cand.distribution, cand.version,
                                               f"disabled by {ENV_PLUGINS_DISABLE}"))
        elif allow is not None and ep.name not in allow:
            owners[ep.name] = cand
            state.skipped.append(SkippedPlugin(cand.name, cand.distribution, cand.version,
                                               f"not selected by {ENV_PLUGINS}"))
        else:
            owners[ep.name] = cand
            chosen.append(cand)
    return chosen


def _hook_problems(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """Hooks of ``plugin`` that embedspec cannot call: unknown names (misspelt), wrappers."""
    callers = pm.get_hookcallers(plugin) or []
    if not callers:
        return ["it defines no hook implementation (are its hooks decorated with @hookimpl?)"]
    known = sorted(n for n in vars(hookspecs) if n.startswith("register_"))
    problems = []
    for caller in callers:
        impls = [i for i in caller.get_hookimpls() if i.plugin is plugin]
        if not caller.has_spec() and any(not i.optionalhook for i in impls):
            close = difflib.get_close_matches(caller.name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"embedspec's hooks are {', '.join(known)}"
            problems.append(f"unknown hook {caller.name!r} ({hint})")
        elif caller.name in _HOOK_KINDS and any(i.hookwrapper or i.wrapper for i in impls):
            problems.append(f"{caller.name} must be a plain @hookimpl, not a wrapper")
    return problems


def _collect(pm: pluggy.PluginManager, plugin: Any, cand: _Candidate) -> tuple[list[Registration], list[str]]:
    """Call the plugin's register_* hooks; return what they registered and every problem found."""
    regs: list[Registration] = []
    problems: list[str] = []
    for caller in pm.get_hookcallers(plugin) or []:
        kind = _HOOK_KINDS.get(caller.name)
        if kind is None:  # register_commands: the CLI calls it
            continue
        for impl in (i for i in caller.get_hookimpls() if i.plugin is plugin):
            hook, is_open, invalid = caller.name, [True], []

            def register(name: str, factory: Any, config_model: type[BaseModel] | None = None, *,
                         _kind: str = kind, _hook: str = hook, _open: list[bool] = is_open,
                         _invalid: list[str] = invalid) -> None:
                if not _open[0]:
                    raise PluginError(f"plugin {cand.name!r} called register() after {_hook} returned",
                                      plugin=cand.name, distribution=cand.distribution)
                model = getattr(factory, "Config", ComponentConfig) if config_model is None else config_model
                found = registration_problems(_kind, name, factory, model)
                if found:
                    _invalid.extend(found)
                    return
                regs.append(Registration(name, _kind, factory, model, cand.name, cand.distribution, cand.version))

            try:
                impl.function(**({"register": register} if "register" in impl.argnames else {}))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: B036 - SystemExit from a plugin ends only the plugin
                invalid.append(f"raised {_explain(exc)}")
            finally:
                is_open[0] = False
            if invalid:
                problems.append(f"{hook}: {'; '.join(invalid)}")
    return regs, problems


def _load_candidate(state: _State, cand: _Candidate) -> None:
    """Import, register and collect one plugin; on any failure undo it and record why."""
    try:
        plugin = cand.load()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: B036 - ImportError, SystemExit, anything at import time
        state.refuse(cand, f"import failed: {_explain(exc)}")
        return
    if state.pm.has_plugin(cand.name):
        state.refuse(cand, f"the name {cand.name!r} is already taken by another plugin")
        return
    other = state.pm.get_name(plugin)
    if other is not None:
        state.refuse(cand, f"its hooks ({cand.source}) are already loaded as plugin {other!r}")
        return
    try:
        state.pm.register(plugin, name=cand.name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: B036 - pluggy: a hook's arguments do not match its spec
        state.refuse(cand, f"invalid hooks: {_explain(exc)}")
        return
    problems = _hook_problems(state.pm, plugin)
    regs, hook_problems = ([], []) if problems else _collect(state.pm, plugin, cand)
    problems = problems or hook_problems or state.registry.conflicts(regs)
    if problems:
        state.pm.unregister(plugin)
        state.refuse(cand, "; ".join(problems))
        return
    state.registry.add_all(regs)
    state.loaded[cand.name] = cand


def _load() -> _State:
    global _state
    with _lock:
        if _state is not None:
            return _state
        state = _State()
        from .builtin import plugin as builtin_plugin

        try:
            core_version: str | None = md.version("embedspec")
        except md.PackageNotFoundError:
            core_version = None
        candidates = [_Candidate(BUILTIN, "embedspec", core_version, BUILTIN, lambda: builtin_plugin)]
        candidates += _entry_point_candidates(state)
        candidates += [_Candidate(name, None, None, "run time", lambda obj=obj: obj) for name, obj in _extra.items()]
        for cand in candidates:
            _load_candidate(state, cand)
        state.pm.check_pending()  # never raises: plugins with unknown hooks were refused above
        _state = state
        return state


def load_plugins() -> Registry:
    """Load built-ins and installed plugins once; return the registry. Idempotent.

    The first call warns (``PluginWarning``) about each refused plugin and each unusable name in
    ``EMBEDSPEC_PLUGINS``/``EMBEDSPEC_PLUGINS_DISABLE``, unless ``take_notices()`` took them first.
    """
    state = _load()
    for message in take_notices():
        warnings.warn(f"embedspec: {message}", PluginWarning, stacklevel=_outside_embedspec())
    return state.registry


def _outside_embedspec() -> int:
    """The ``stacklevel`` of the first caller outside the embedspec package (where a warning belongs)."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def get_registry() -> Registry:
    return load_plugins()


def get_plugin_manager() -> pluggy.PluginManager:
    """The loaded plugin manager: it holds only the plugins that loaded whole."""
    return _load().pm


def broken_plugins() -> list[BrokenPlugin]:
    """The plugins refused (import, hooks, registrations, name collisions), in load order."""
    return list(_load().broken)


def skipped_plugins() -> list[SkippedPlugin]:
    """The installed plugins left out by ``EMBEDSPEC_PLUGINS``/``EMBEDSPEC_PLUGINS_DISABLE``."""
    return list(_load().skipped)


def plugin_notices() -> list[str]:
    """Problems with ``EMBEDSPEC_PLUGINS``/``EMBEDSPEC_PLUGINS_DISABLE`` (names no plugin has...)."""
    return list(_load().notices)


def take_notices() -> list[str]:
    """The load-time messages (refused plugins, env-variable problems) not shown yet, now marked shown:
    a caller that prints them itself (the CLI) takes them so they are not warned about again."""
    with _lock:
        state = _load()
        messages, state.unshown = state.unshown, []
        return messages


def attach_commands(cli: Any) -> None:
    """Call each loaded plugin's ``register_commands(cli)`` on its own: a plugin whose hook raises, or
    that adds a command name already taken, is refused (its components withdrawn) and the others
    still add theirs."""
    import click

    state = _load()
    for impl in state.pm.hook.register_commands.get_hookimpls():
        scratch = click.Group()
        try:
            impl.function(cli=scratch)
            taken = sorted(set(scratch.commands) & set(cli.commands))
            error = f"register_commands adds command(s) already taken: {', '.join(taken)}" if taken else ""
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: B036 - one plugin never ends the command line
            error = f"register_commands raised {_explain(exc)}"
        if error:
            state.registry.remove_plugin(impl.plugin_name)
            state.pm.unregister(name=impl.plugin_name)
            state.refuse(state.loaded.pop(impl.plugin_name), error)
        else:
            for name, command in scratch.commands.items():
                cli.add_command(command, name)


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


def describe(component: Any) -> dict[str, Any]:
    """The spec block that rebuilds ``component`` (``Registry.describe`` of the loaded registry)."""
    return get_registry().describe(component)


def build_component(kind: str, block: Any, **options: Any) -> Any:
    """``Registry.build`` of the loaded registry: validate a block, create, check, load state."""
    return get_registry().build(kind, block, **options)
