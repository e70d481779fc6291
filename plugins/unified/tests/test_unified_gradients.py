"""The analytic gradients of the model (table rows and head) agree with central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec_unified.model import Lookups, init_params, loss_and_grads
from embedspec_unified.records import Ragged


def _lookups(rng: np.random.Generator, m: int, num_rows: int) -> Lookups:
    single = Ragged(rng.integers(0, num_rows, (m, 2)), np.arange(m + 1), True)  # 2 chunks
    counts = rng.integers(0, 4, m)  # includes empty lists
    counts[0] = 0
    offsets = np.concatenate([[0], np.cumsum(counts)])
    multi_mean = Ragged.of(rng.integers(0, num_rows, (offsets[-1], 1)), offsets)
    multi_sum = Ragged.of(rng.integers(0, num_rows, (offsets[-1], 1)), offsets)
    return Lookups([single, multi_mean, multi_sum], ["mean", "mean", "sum"])


@pytest.mark.parametrize("head", ["logistic", "mlp"])
def test_gradients_match_finite_differences(head: str) -> None:
    rng = np.random.default_rng(0)
    num_rows, chunk_dim, m = 12, 3, 9
    lookups = _lookups(rng, m, num_rows)
    dim = 4 * chunk_dim
    params = {k: v.astype(np.float64) for k, v in init_params(num_rows, chunk_dim, dim, head, 5, 0.5, rng).items()}
    params["b2"] += 0.3
    if head == "mlp":
        params["b1"] += 0.1
    y = rng.integers(0, 2, m).astype(np.float64)
    l2 = 0.01
    _, grads = loss_and_grads(params, lookups, y, l2)
    rows, row_grads = grads["table"]
    dense_table = np.zeros_like(params["table"])
    dense_table[rows] = row_grads
    analytic = {**{k: v for k, v in grads.items() if k != "table"}, "table": dense_table}
    eps = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            old = value[idx]
            value[idx] = old + eps
            up = loss_and_grads(params, lookups, y, l2)[0]
            value[idx] = old - eps
            down = loss_and_grads(params, lookups, y, l2)[0]
            value[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(analytic[name], numeric, rtol=1e-5, atol=1e-8, err_msg=name)
    assert np.abs(dense_table).sum() > 0
    untouched = np.setdiff1d(np.arange(num_rows), rows)
    assert np.all(dense_table[untouched] == 0)


def test_sparse_update_touches_only_batch_rows() -> None:
    from embedspec_unified.optim import Adagrad, Adam

    rng = np.random.default_rng(1)
    lookups = _lookups(rng, 6, 50)
    for opt_cls in (Adam, Adagrad):
        params = init_params(50, 3, 12, "mlp", 4, 0.1, np.random.default_rng(2))
        before = params["table"].copy()
        _, grads = loss_and_grads(params, lookups, np.ones(6), 0.0)
        opt_cls(params, 0.1).step(params, grads)
        changed = np.flatnonzero(np.any(params["table"] != before, axis=1))
        assert set(changed) <= set(grads["table"][0]) and len(changed) > 0
