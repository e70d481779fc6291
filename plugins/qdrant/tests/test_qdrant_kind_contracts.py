"""qdrant-edge against the conformance kit's multi-vector and sparse index contracts (numpy references)."""

from __future__ import annotations

from embedspec.plugins import get_registry
from embedspec.testing_indexes import check_multivector_index, check_sparse_index


def test_qdrant_edge_passes_the_multi_vector_contract(tmp_path):
    make = get_registry().get("index", "qdrant-edge").create
    check_multivector_index(lambda: make({"path": str(tmp_path / "multi"), "metric": "dot", "exact": True}))


def test_qdrant_edge_passes_the_sparse_contract(tmp_path):
    from embedspec.query import DEFAULT_VECTOR, VectorSpec

    def make():  # a sparse vector is bound as a build binds it for a sparse encoder (no IDF modifier)
        index = get_registry().get("index", "qdrant-edge").create({"path": str(tmp_path / "sparse"), "metric": "dot"})
        index.bind_vectors({DEFAULT_VECTOR: VectorSpec("sparse", 1_000, "dot", None)})
        return index

    check_sparse_index(make, space=1_000)
