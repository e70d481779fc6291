"""Plugin discovery: built-ins, run-time plugins, duplicates, broken hooks, EMBEDSPEC_PLUGINS."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from embedspec.base import BaseEncoder
from embedspec.errors import PluginError, UnknownComponentError
from embedspec.hookspecs import hookimpl
from embedspec.plugins import broken_plugins, get_registry, register_plugin, unregister_plugin
from embedspec.registry import ComponentConfig

BUILTINS = {
    ("encoder", "hashing"), ("index", "exact"), ("aligner", "procrustes"),
    ("compressor", "matryoshka"), ("compressor", "int8"), ("compressor", "binary"), ("compressor", "pq"),
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
    def register_indexes(self, register):
        register("exact", CountingEncoder, CountingConfig)


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
        assert "'embedspec.builtin'" in broken.error and "'dup'" in broken.error
        assert registry.get("index", "exact").plugin == "embedspec.builtin"
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
