"""The conformance kit: named contracts usable with pytest parametrization; the compressor written
from docs/writing-a-plugin.md alone passes them; a broken contract names itself and both values."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from embedspec.builtin.exact import ExactIndex
from embedspec.builtin.hashing import HashingEncoder
from embedspec.builtin.matryoshka import MatryoshkaCompressor
from embedspec.hookspecs import hookimpl
from embedspec.plugins import register_plugin, unregister_plugin
from embedspec.testing import ContractError, contracts

DOC = Path(__file__).resolve().parents[2] / "docs" / "writing-a-plugin.md"
X = np.random.default_rng(0).standard_normal((200, 32)).astype(np.float32)


def documented_compressor() -> type:
    """The class defined by the code block after ``<!-- conformance-example -->`` in the docs."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- conformance-example -->\s*```python\n(.*?)```", text, re.S)
    assert block, "docs/writing-a-plugin.md lost its conformance example"
    namespace: dict = {}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["PcaCompressor"]


@pytest.fixture(scope="module")
def pca():
    cls = documented_compressor()

    class Plugin:
        @hookimpl
        def register_compressors(self, register):
            register("pca", cls)

    register_plugin(Plugin(), "doc-example")
    try:
        yield cls
    finally:
        unregister_plugin("doc-example")


@pytest.mark.parametrize("contract", contracts("compressor"), ids=str)
def test_the_documented_compressor_passes_every_contract(contract, pca):
    contract(pca(dim=8), X)


@pytest.mark.parametrize("contract", contracts("encoder"), ids=str)
def test_hashing_encoder_contracts(contract):
    contract(HashingEncoder(dim=64), ["alpha beta", "gamma delta", "epsilon"])


@pytest.mark.parametrize("contract", contracts("index"), ids=str)
def test_exact_index_contracts(contract, tmp_path):
    contract(lambda: ExactIndex(path=str(tmp_path / "idx")), 8)


def test_every_kind_has_named_contracts():
    names = {kind: [str(c) for c in contracts(kind)] for kind in ("encoder", "index", "compressor", "aligner")}
    assert all(len(v) >= 4 and len(set(v)) == len(v) for v in names.values()), names
    assert all("constructor_stores_parameters_only" in v for v in names.values())


def test_a_broken_contract_names_itself_and_both_values(pca):
    class Liar(pca):
        def output_dim(self, input_dim):
            return 2 * self.dim

    broken = next(c for c in contracts("compressor") if c.name == "output_dim and bytes_per_vector")
    with pytest.raises(ContractError) as exc:
        broken(Liar(dim=4), X)
    assert str(exc.value) == "[compressor: output_dim and bytes_per_vector] transform width vs output_dim: got 4, expected 8"


def test_a_constructor_doing_more_than_storing_parameters_is_caught(pca):
    class Busy(MatryoshkaCompressor):
        def __init__(self, **params):
            super().__init__(**params)
            self.cache = {}  # a public attribute that is not a parameter

    class Plugin:
        @hookimpl
        def register_compressors(self, register):
            register("busy", Busy)

    register_plugin(Plugin(), "busy-plugin")
    try:
        check = next(c for c in contracts("compressor") if str(c) == "constructor_stores_parameters_only")
        with pytest.raises(ContractError, match=r"attributes that are not parameters: got \['cache'\], expected only "
                                                r"parameters \(dim, normalize\)"):
            check(Busy(dim=4), X)
    finally:
        unregister_plugin("busy-plugin")
