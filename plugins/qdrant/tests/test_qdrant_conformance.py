"""Both Qdrant indexes pass the core Index conformance check; the plugin imports no Qdrant library."""

from __future__ import annotations

import subprocess
import sys

import pytest
from embedspec.plugins import get_registry
from embedspec.testing import check_index


def _make(name: str, **config):
    return get_registry().get("index", name).create(config)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_qdrant_edge_conformance(tmp_path, metric):
    check_index(lambda: _make("qdrant-edge", path=str(tmp_path / "shard"), metric=metric), dim=8)


def test_qdrant_edge_conformance_hnsw_binary(tmp_path):
    check_index(lambda: _make("qdrant-edge", path=str(tmp_path / "shard"), quantization="binary", search_ef=64), dim=16)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_qdrant_client_memory_conformance(metric):
    check_index(lambda: _make("qdrant", location=":memory:", metric=metric, collection="conf"), dim=8)


def test_qdrant_client_path_conformance(tmp_path):
    check_index(lambda: _make("qdrant", path=str(tmp_path / "local")), dim=8)


def test_registered_with_plugin_origin():
    reg = get_registry().get("index", "qdrant-edge")
    assert reg.plugin == "qdrant" and reg.distribution == "embedspec-qdrant"
    assert get_registry().get("index", "qdrant").distribution == "embedspec-qdrant"


def test_importing_the_plugin_imports_no_qdrant_library():
    code = (
        "import sys, embedspec_qdrant.plugin\n"
        "from embedspec.plugins import get_registry\n"
        "names = get_registry().names('index')\n"
        "assert 'qdrant-edge' in names and 'qdrant' in names, names\n"
        "from embedspec.plugins import describe\n"
        "idx = get_registry().get('index', 'qdrant-edge').create({'path': '/nonexistent/x'})\n"
        "print(describe(idx))\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('qdrant_edge', 'qdrant_client'))\n"
        "print('LOADED', loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out, out
    assert "{'type': 'qdrant-edge', 'path': '/nonexistent/x'}" in out


@pytest.mark.parametrize(
    ("module", "make", "extra"),
    [
        ("qdrant_edge", "QdrantEdgeIndex(path='/tmp/never-created', dim=4)", "embedspec-qdrant[edge]"),
        ("qdrant_client", "QdrantIndex(location=':memory:', dim=4)", "embedspec-qdrant[client]"),
    ],
)
def test_missing_library_names_the_extra(module, make, extra):
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from embedspec_qdrant.edge import QdrantEdgeIndex\n"
        "from embedspec_qdrant.client import QdrantIndex\n"
        f"index = {make}\n"
        "try:\n    index.count()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("PluginError") and f"pip install '{extra}'" in out, out
