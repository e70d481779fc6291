"""Plugin discovery and isolation in-process: built-ins, run-time plugins, duplicates, broken hooks,
kind-aware lookups, commands, EMBEDSPEC_PLUGINS, and a fuzz of misbehaving plugins.
(Installed third-party distributions: test_plugin_isolation.py.)"""

from __future__ import annotations

import random
import subprocess
import sys
import warnings

import click
import numpy as np
import pytest
from embedspec.base import BaseEncoder
from embedspec.errors import PluginError, UnknownComponentError
from embedspec.hookspecs import hookimpl
from embedspec.plugins import (
    PluginWarning,
    broken_plugins,
    get_plugin_manager,
    get_registry,
    register_plugin,
    reset_plugins,
    unregister_plugin,
)
from embedspec.registry import ComponentConfig

BUILTINS = {
    ("encoder", "hashing"), ("index", "exact"), ("aligner", "procrustes"),
    ("compressor", "matryoshka"), ("compressor", "int8"), ("compressor", "binary"), ("compressor", "pq"),
    ("compressor", "muvera"),
}


class CountingConfig(ComponentConfig):
    dim: int = 4


class CountingEncoder(BaseEncoder):
    """A deterministic fake: character counts of a, b, c, d."""

    def __init__(self, dim: int = 4) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def _encode_batch(self, inputs, role):
        return np.array([[t.count(c) for c in "abcd"[: self._dim]] for t in inputs], dtype=np.float32)


class FakePlugin:
    @hookimpl
    def register_encoders(self, register):
        register("counting", CountingEncoder, CountingConfig)


class BrokenHookPlugin:
    @hookimpl
    def register_indexes(self, register):
        raise RuntimeError("boom")


class DuplicatePlugin:
    @hookimpl
    def register_encoders(self, register):
        register("dup-counting", CountingEncoder, CountingConfig)

    @hookimpl
    def register_indexes(self, register):
        from embedspec.builtin.exact import ExactIndex, ExactIndexConfig

        register("exact", ExactIndex, ExactIndexConfig)


def test_builtins_are_registered(fresh_plugins):
    names = {(r.kind, r.name) for r in get_registry()}
    assert BUILTINS <= names
    reg = get_registry().get("index", "exact")
    assert reg.plugin == "embedspec.builtin" and reg.distribution == "embedspec"


def test_runtime_plugin_registers_and_unregisters(fresh_plugins):
    register_plugin(FakePlugin(), "fake")
    try:
        reg = get_registry().get("encoder", "counting")
        assert reg.plugin == "fake"
        enc = reg.create({"dim": 3})
        assert enc.encode(["abca"]).tolist() == [[2.0, 1.0, 1.0]]
    finally:
        unregister_plugin("fake")
    with pytest.raises(UnknownComponentError):
        get_registry().get("encoder", "counting")


def test_unknown_component_suggests(fresh_plugins):
    with pytest.raises(UnknownComponentError) as exc:
        get_registry().get("compressor", "binery")
    assert exc.value.suggestions == ["binary"]
    assert "embedspec plugins" in str(exc.value)
    assert isinstance(exc.value, KeyError)


def test_broken_hook_is_reported_and_others_still_load(fresh_plugins):
    register_plugin(BrokenHookPlugin(), "broken-one")
    register_plugin(FakePlugin(), "fake")
    try:
        with pytest.warns(UserWarning, match="broken-one"):
            registry = get_registry()
        assert registry.get("encoder", "counting")
        assert registry.get("index", "exact")
        (broken,) = [b for b in broken_plugins() if b.name == "broken-one"]
        assert "RuntimeError: boom" in broken.error
    finally:
        unregister_plugin("broken-one")
        unregister_plugin("fake")


def test_duplicate_name_names_both_plugins(fresh_plugins):
    register_plugin(DuplicatePlugin(), "dup")
    try:
        with pytest.warns(UserWarning):
            registry = get_registry()
        (broken,) = [b for b in broken_plugins() if b.name == "dup"]
        assert broken.error == ("index 'exact' is registered twice: by plugin 'embedspec.builtin' (embedspec) "
                                "and by plugin 'dup' (None)")
        assert registry.get("index", "exact").plugin == "embedspec.builtin"
        with pytest.raises(UnknownComponentError):  # all or nothing: its encoder is withdrawn too
            registry.get("encoder", "dup-counting")
    finally:
        unregister_plugin("dup")


def test_duplicate_registration_error_type():
    from embedspec.registry import Registration, Registry

    reg = Registry()
    reg.add(Registration("x", "encoder", CountingEncoder, CountingConfig, "a", "dist-a"))
    with pytest.raises(PluginError) as exc:
        reg.add(Registration("x", "encoder", CountingEncoder, CountingConfig, "b", "dist-b"))
    assert "'a' (dist-a)" in str(exc.value) and "'b' (dist-b)" in str(exc.value)
    assert exc.value.plugin == "b"
    with pytest.raises(PluginError):  # all or nothing: "y" is not added either
        reg.add_all([Registration("y", "encoder", CountingEncoder, CountingConfig, "b"),
                     Registration("y", "encoder", CountingEncoder, CountingConfig, "b")])
    assert reg.names("encoder") == ["x"]


def test_embedspec_plugins_env_restricts_external_plugins():
    code = (
        "import embedspec.plugins as p; r = p.load_plugins();"
        "print(sorted({x.plugin for x in r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "EMBEDSPEC_PLUGINS": ""})
    assert out.stdout.strip() == "['embedspec.builtin']"


def test_loading_plugins_imports_no_heavy_library():
    code = (
        "import embedspec, sys; embedspec.load_plugins();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'onnxruntime','torch','qdrant_client','qdrant_edge','sklearn','transformers','tokenizers','PIL','scipy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# ---- isolation: each way a run-time plugin can fail refuses that plugin alone --------------------
class SystemExitHookPlugin:
    @hookimpl
    def register_encoders(self, register):
        register("exiting", CountingEncoder, CountingConfig)
        raise SystemExit(2)


class HalfwayPlugin:
    """Registers an encoder, then its index hook raises: the encoder is withdrawn as well."""

    @hookimpl
    def register_encoders(self, register):
        register("halfway", CountingEncoder, CountingConfig)

    @hookimpl
    def register_indexes(self, register):
        raise ValueError("no index today")


class WrongArgumentPlugin:
    @hookimpl
    def register_encoders(self, reg):
        reg("wrong-arg", CountingEncoder, CountingConfig)


class NoArgumentPlugin:
    @hookimpl
    def register_encoders(self):
        pass


class NoHooksPlugin:
    def register_encoders(self, register):  # no @hookimpl
        register("unmarked", CountingEncoder, CountingConfig)


class WrapperPlugin:
    @hookimpl(wrapper=True)
    def register_encoders(self, register):
        return (yield)


class MisspeltPlugin:
    @hookimpl
    def register_encoder(self, register):
        register("misspelt", CountingEncoder, CountingConfig)


class LateRegisterPlugin:
    callback = None

    @hookimpl
    def register_encoders(self, register):
        LateRegisterPlugin.callback = register


@pytest.fixture
def runtime_only(fresh_plugins, monkeypatch):
    """Only built-ins and run-time plugins (no installed distribution)."""
    monkeypatch.setenv("EMBEDSPEC_PLUGINS", "")
    monkeypatch.delenv("EMBEDSPEC_PLUGINS_DISABLE", raising=False)


def _loaded(*plugins: tuple[object, str]):
    for obj, name in plugins:
        register_plugin(obj, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = get_registry()
    return registry, {b.name: b for b in broken_plugins()}, [str(w.message) for w in caught]


@pytest.mark.parametrize(("plugin", "error"), [
    (SystemExitHookPlugin(), "register_encoders: raised SystemExit(2)"),
    (HalfwayPlugin(), "register_indexes: raised ValueError: no index today"),
    (WrongArgumentPlugin(), "invalid hooks: PluginValidationError: Plugin 'bad' for hook 'register_encoders'"),
    (NoHooksPlugin(), "it defines no hook implementation (are its hooks decorated with @hookimpl?)"),
    (WrapperPlugin(), "register_encoders must be a plain @hookimpl, not a wrapper"),
    (MisspeltPlugin(), "unknown hook 'register_encoder' (did you mean 'register_encoders'?)"),
])
def test_a_failing_plugin_is_refused_whole_and_the_others_load(runtime_only, plugin, error):
    registry, broken, messages = _loaded((plugin, "bad"), (FakePlugin(), "fake"))
    assert broken["bad"].error.startswith(error), broken["bad"].error
    assert broken["bad"].distribution is None and broken["bad"].origin == "registered at run time"
    assert messages == [f"embedspec: plugin 'bad' (registered at run time) was skipped: {broken['bad'].error}"]
    assert {r.plugin for r in registry} == {"embedspec.builtin", "fake"}
    assert BUILTINS <= {(r.kind, r.name) for r in registry}
    assert not get_plugin_manager().has_plugin("bad")


def test_keyboard_interrupt_in_a_hook_is_not_swallowed(runtime_only):
    class Interrupting:
        @hookimpl
        def register_encoders(self, register):
            raise KeyboardInterrupt

    register_plugin(Interrupting(), "ctrl-c")
    with pytest.raises(KeyboardInterrupt):
        get_registry()


def test_any_base_exception_at_import_is_caught():
    from embedspec.plugins import _Candidate, _load_candidate, _State

    class Escape(BaseException):
        pass

    def load():
        raise Escape("out of here")

    state = _State()
    _load_candidate(state, _Candidate("escaping", "embedspec-escaping", "1.0", "escaping = m", load))
    assert state.broken[0].summary() == (
        "plugin 'escaping' (embedspec-escaping 1.0) was skipped: import failed: Escape: out of here")


def test_a_hook_without_the_register_argument_is_called_without_it(runtime_only):
    registry, broken, messages = _loaded((NoArgumentPlugin(), "quiet"))
    assert broken == {} and messages == []
    assert get_plugin_manager().has_plugin("quiet")


def test_register_after_the_hook_returned_is_refused(runtime_only):
    registry, broken, _ = _loaded((LateRegisterPlugin(), "late"))
    assert broken == {}
    with pytest.raises(PluginError, match="plugin 'late' called register\\(\\) after register_encoders returned"):
        LateRegisterPlugin.callback("too-late", CountingEncoder, CountingConfig)
    with pytest.raises(UnknownComponentError):
        registry.get("encoder", "too-late")


def test_the_same_plugin_object_under_two_names_is_refused_once(runtime_only):
    plugin = FakePlugin()
    registry, broken, _ = _loaded((plugin, "first"), (plugin, "second"))
    assert broken["second"].error.startswith("its hooks (run time) are already loaded as plugin 'first'")
    assert registry.get("encoder", "counting").plugin == "first"


def test_invalid_registrations_are_all_reported_and_nothing_is_kept(runtime_only):
    class Invalid:
        @hookimpl
        def register_encoders(self, register):
            register("fine", CountingEncoder, CountingConfig)
            register("bad:name", CountingEncoder, CountingConfig)
            register("by-instance", CountingEncoder(), CountingConfig)
            register("config-instance", CountingEncoder, CountingConfig())

        @hookimpl
        def register_compressors(self, register):
            register("typed", CountingEncoder, TypedConfig)

    class TypedConfig(ComponentConfig):
        type: str = "x"

    registry, broken, _ = _loaded((Invalid(), "invalid"))
    assert broken["invalid"].error == (
        "register_compressors: compressor 'typed': CountingEncoder lacks fit(), transform(), output_dim(), "
        "bytes_per_vector() of the Compressor protocol; "
        "compressor 'typed': the config model may not have a field named 'type' (the spec's `type:` key); "
        "register_encoders: encoder 'bad:name': the name may hold only letters, digits, '.', '_' and '-' "
        "(starting with a letter or digit, at most 64 characters); "
        "encoder 'by-instance': the factory must be a class, got CountingEncoder; "
        "encoder 'config-instance': the config model must be a pydantic BaseModel subclass, got CountingConfig"
    )
    assert {r.plugin for r in registry} == {"embedspec.builtin"}


def test_registration_validates_itself():
    from embedspec.registry import Registration

    with pytest.raises(PluginError, match="encoder 'two words': the name may hold only"):
        Registration("two words", "encoder", CountingEncoder, CountingConfig, "p")
    with pytest.raises(PluginError, match="unknown component kind 'encoders'"):
        Registration("x", "encoders", CountingEncoder, CountingConfig, "p")


# ---- lookups by (kind, name) ----------------------------------------------------------------------
class ExactEncoderPlugin:
    @hookimpl
    def register_encoders(self, register):
        register("exact", CountingEncoder, CountingConfig)


def test_describe_finds_the_component_by_kind_and_name(runtime_only, tmp_path):
    from embedspec.builtin.exact import ExactIndex
    from embedspec.plugins import describe

    register_plugin(ExactEncoderPlugin(), "exact-encoder")
    registry = get_registry()
    index = registry.get("index", "exact").create({"path": str(tmp_path / "i"), "metric": "euclidean"})
    encoder = registry.get("encoder", "exact").create({"dim": 3})
    try:
        assert (index._embedspec_kind, encoder._embedspec_kind) == ("index", "encoder")
        assert describe(index) == {"type": "exact", "path": str(tmp_path / "i"), "metric": "euclidean"}
        assert describe(encoder) == {"type": "exact", "dim": 3}
        assert describe(ExactIndex(metric="dot")) == {"type": "exact", "metric": "dot"}  # built directly
    finally:
        index.close()


def test_one_class_under_two_kinds_is_told_apart_by_protocol(runtime_only):
    from embedspec.builtin.scalar import Int8Quantizer, Int8QuantizerConfig
    from embedspec.plugins import describe

    class Both:
        @hookimpl
        def register_aligners(self, register):
            register("int8-aligner", Int8Quantizer, Int8QuantizerConfig)

    register_plugin(Both(), "both")
    registry = get_registry()
    made = registry.get("aligner", "int8-aligner").create({})
    assert describe(made)["type"] == "int8-aligner"
    with pytest.raises(PluginError, match=r"registered as several components \(aligner 'int8-aligner', "
                                          r"compressor 'int8'\)"):
        describe(Int8Quantizer())  # built directly, fits both protocols: ambiguous, said so


# ---- commands ---------------------------------------------------------------------------------------
class CommandPlugin:
    @hookimpl
    def register_commands(self, cli):
        @cli.command("hello")
        def hello() -> None:
            click.echo("hello")


class RaisingCommandPlugin(FakePlugin):
    @hookimpl
    def register_commands(self, cli):
        raise ImportError("no CLI extras")


class ClashingCommandPlugin:
    @hookimpl
    def register_encoders(self, register):
        register("clash-counting", CountingEncoder, CountingConfig)

    @hookimpl
    def register_commands(self, cli):
        @cli.command("validate")
        def validate() -> None:
            click.echo("hijacked")


def test_a_failing_command_hook_refuses_its_plugin_and_spares_the_others(runtime_only):
    from embedspec.plugins import attach_commands, take_notices

    register_plugin(RaisingCommandPlugin(), "raising")
    register_plugin(ClashingCommandPlugin(), "clashing")
    register_plugin(CommandPlugin(), "hello")
    group = click.Group(commands={"validate": click.Command("validate")})
    attach_commands(group)
    assert sorted(group.commands) == ["hello", "validate"]
    assert group.commands["validate"].callback is None  # not replaced
    broken = {b.name: b.error for b in broken_plugins()}
    assert broken == {"raising": "register_commands raised ImportError: no CLI extras",
                      "clashing": "register_commands adds command(s) already taken: validate"}
    with pytest.warns(PluginWarning) as record:
        assert {r.plugin for r in get_registry()} == {"embedspec.builtin"}
    assert [str(w.message) for w in record] == [
        "embedspec: plugin 'raising' (registered at run time) was skipped: register_commands raised ImportError: "
        "no CLI extras",
        "embedspec: plugin 'clashing' (registered at run time) was skipped: register_commands adds command(s) "
        "already taken: validate",
    ]
    assert take_notices() == []  # get_registry() warned about them
    assert not get_plugin_manager().has_plugin("raising")


# ---- fuzz: random misbehaving plugins never hurt the others, and never half-register ------------
def _fuzz_pools():
    from embedspec.builtin.exact import ExactIndex, ExactIndexConfig
    from embedspec.builtin.procrustes import ProcrustesAligner
    from embedspec.builtin.scalar import Int8Quantizer

    factories = {"encoder": CountingEncoder, "index": ExactIndex, "aligner": ProcrustesAligner,
                 "compressor": Int8Quantizer}
    accepted = {"encoder": {CountingEncoder}, "index": {ExactIndex}, "compressor": {Int8Quantizer},
                "aligner": {ProcrustesAligner, Int8Quantizer}}  # a compressor has fit() and transform()
    names = ["ok-a", "ok-b", "ok-c", "ok-d", "n.1_2-3", "Fz.2", "fz_3", "9x", "hashing", "exact", "int8", "procrustes"]
    bad_names = ["", "a b", "ümlaut", "x" * 65, "-dash", "$var", 7, None, b"bytes"]
    models = [CountingConfig, ExactIndexConfig, ComponentConfig, None]
    bad_models = [dict, CountingConfig(), 3, "CountingConfig", CountingEncoder]
    bad_factories = [CountingEncoder(), len, None, object, "CountingEncoder", lambda **kw: None]
    errors = [RuntimeError("x"), SystemExit(1), GeneratorExit(), ImportError("y"), MemoryError(), Exception()]
    return factories, accepted, names, bad_names, models, bad_models, bad_factories, errors


def _random_plugin(rng: random.Random, pools) -> tuple[object, bool]:
    """A plugin with random hooks and registrations (mostly valid), and whether it should load."""
    factories, accepted, names, bad_names, models, bad_models, bad_factories, errors = pools
    hooks = {"register_encoders": "encoder", "register_indexes": "index",
             "register_aligners": "aligner", "register_compressors": "compressor"}
    chosen = rng.sample(sorted(hooks), rng.randint(1, 3))
    plan, ok = {}, True
    for hook in chosen:
        kind, plan[hook] = hooks[hook], []
        for _ in range(rng.randint(0, 3)):
            name, factory, model = rng.choice(names), rng.choice(list(factories.values())), rng.choice(models)
            if rng.random() < 0.05:
                name = rng.choice(bad_names)
            if rng.random() < 0.05:
                factory = rng.choice(bad_factories)
            if rng.random() < 0.05:
                model = rng.choice(bad_models)
            ok &= (name in names and factory in accepted[kind] and model in models
                   and (kind, name) not in BUILTINS and (kind, name) not in [(hooks[h], n) for h in plan
                                                                            for n, *_ in plan[h]])
            plan[hook].append((name, factory, model))
    raises = {h: rng.choice(errors) if rng.random() < 0.06 else None for h in chosen}
    ok &= not any(raises.values())

    def make(hook):
        def impl(register):
            for args in plan[hook]:
                register(*args)
            if raises[hook] is not None:
                raise raises[hook]
        return staticmethod(hookimpl(impl))

    return type("RandomPlugin", (), {h: make(h) for h in chosen})(), ok


def test_fuzz_random_plugins_load_whole_or_not_at_all(runtime_only):
    rng, pools = random.Random(11), _fuzz_pools()
    outcomes = {True: 0, False: 0}
    for _ in range(200):
        plugin, ok = _random_plugin(rng, pools)
        reset_plugins()
        registry, broken, messages = _loaded((plugin, "random"), (FakePlugin(), "fake"))
        assert ("random" not in broken) == ok, (broken.get("random"), ok)
        assert len(messages) == len(broken) == (not ok)
        assert BUILTINS <= {(r.kind, r.name) for r in registry}
        assert {(r.kind, r.name) for r in registry if r.plugin == "embedspec.builtin"} == BUILTINS
        assert registry.get("encoder", "counting").plugin == "fake"
        if not ok:
            assert [r for r in registry if r.plugin == "random"] == []
            assert not get_plugin_manager().has_plugin("random")
        outcomes[ok] += 1
        unregister_plugin("random")
    assert outcomes[True] >= 25 and outcomes[False] >= 100, outcomes  # both paths well exercised
