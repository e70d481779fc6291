"""The encoders inside the core machinery: light imports, spec validation, build(), an exact index."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from unified_synthetic import FEATURES


def test_listing_components_imports_no_heavy_library() -> None:
    code = (
        "import sys; from embedspec.plugins import get_registry; r = get_registry();"
        "assert 'unified-embedding' in r.names('encoder');"
        "heavy = [m for m in ('pyarrow', 'matplotlib', 'torch', 'sklearn', 'scipy', 'onnxruntime') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_build_spec_with_trained_state_and_find_similar_users(fitted_unified, tmp_path) -> None:
    build = pytest.importorskip("embedspec.pipeline").build
    state = fitted_unified.save(tmp_path / "model")
    spec = {
        "version": 1,
        "encoder": {
            "type": "unified-embedding", "features": FEATURES, "rows": 1024, "chunk_dim": 4, "seed": 3,
            "epochs": 15, "batch_size": 256, "output_features": ["user"], "state": str(state),
        },
        "index": {"type": "exact", "metric": "cosine"},
    }
    with build(spec) as pipeline:
        assert pipeline.encoder.dim == 8 and pipeline.encoder.is_fitted
        users = [{"user": u} for u in range(50)]
        pipeline.add(users, ids=list(range(50)))
        hits = pipeline.search(users[:5], k=3)
        assert [row[0].id for row in hits] == [0, 1, 2, 3, 4]
        expected = fitted_unified.encode_features(users[:5], ["user"])
        np.testing.assert_allclose(pipeline.encode(users[:5]), expected)
        block = pipeline.to_spec()["encoder"]
        assert block["type"] == "unified-embedding" and block["output_features"] == ["user"]
        assert block["features"]["tags"] == {"multivalued": True}


def test_spec_errors_name_the_field() -> None:
    spec_mod = pytest.importorskip("embedspec.spec")
    from embedspec.errors import SpecError

    bad = {"version": 1, "encoder": {"type": "unified-embedding", "features": {"u": {"num_chunks": 0}}},
           "index": {"type": "exact"}}
    with pytest.raises(SpecError, match="num_chunks"):
        spec_mod.load_spec(bad)
