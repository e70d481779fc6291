"""Synthetic records with known structure for the embedspec-unified tests (imported by them)."""

from __future__ import annotations

import numpy as np

FEATURES = {
    "user": {"num_chunks": 2},
    "item": {"num_chunks": 2},
    "city": {},
    "tags": {"multivalued": True, "pooling": "mean"},
}


def make_dataset(n: int = 12000, seed: int = 0) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Records whose click probability is sigmoid(user bias + item bias + user-item affinity + tag weights).

    Returns (records, targets (n,) 0/1, true logits (n,)).
    """
    rng = np.random.default_rng(seed)
    n_users, n_items, n_cities, n_tags = 150, 100, 12, 15
    bias_u, bias_i = rng.normal(0, 1.0, n_users), rng.normal(0, 1.0, n_items)
    group_u, group_i = rng.integers(0, 2, n_users), rng.integers(0, 2, n_items)
    tag_w = rng.normal(0, 0.7, n_tags)
    users, items = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    tags = [rng.choice(n_tags, rng.integers(0, 4), replace=False) for _ in range(n)]
    logits = (
        bias_u[users]
        + bias_i[items]
        + 1.5 * np.where(group_u[users] == group_i[items], 1.0, -1.0)  # an interaction
        + np.array([tag_w[t].sum() for t in tags])
    )
    targets = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(np.int64)
    records = [
        {"user": int(u), "item": f"item-{i}", "city": f"c{u % n_cities}", "tags": [f"t{x}" for x in t]}
        for u, i, t in zip(users, items, tags)
    ]
    return records, targets, logits
