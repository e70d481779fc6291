"""Fixtures of the embedspec-unified tests: the synthetic dataset and a model fitted on it. Run from
the repository root (``pytest``) or from this plugin's folder (``pytest tests``)."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.testing_fixtures import pytest_configure  # noqa: F401 - declares the markers (slow, data)
from unified_synthetic import FEATURES, make_dataset


@pytest.fixture(scope="session")
def dataset() -> tuple[list[dict], np.ndarray, np.ndarray]:
    return make_dataset()


@pytest.fixture(scope="session")
def fitted_unified(dataset):
    from embedspec_unified import UnifiedEmbeddingEncoder

    records, targets, _ = dataset
    return UnifiedEmbeddingEncoder(features=FEATURES, rows=1024, chunk_dim=4, seed=3, epochs=15, batch_size=256).fit(
        records[:10000], targets[:10000]
    )
