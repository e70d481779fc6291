"""Query plans and fusion (``embedspec.query``): hand-computed RRF and min-max weighted fusion."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.query import Fusion, Nearest, VectorSpec, check_vector_name, fuse, plan_vectors

A = (np.array([[3, 1, 2], [0, -1, -1]]), np.array([[0.9, 0.5, 0.1], [1.0, -np.inf, -np.inf]], np.float32))
B = (np.array([[1, 4, -1], [5, 0, -1]]), np.array([[10, 5, -np.inf], [3, 2, -np.inf]], np.float32))
PLANS = (Nearest("dense"), Nearest("sparse"))


def test_rrf_by_hand():
    rows, scores = fuse([A, B], Fusion(PLANS, rrf_k=60), k=3)
    # query 0: row 1 is 2nd in A and 1st in B; row 3 1st in A; row 4 2nd in B; row 2 3rd in A
    assert rows.tolist() == [[1, 3, 4], [0, 5, -1]]
    assert scores[0].tolist() == pytest.approx([1 / 62 + 1 / 61, 1 / 61, 1 / 62])
    assert scores[1, :2].tolist() == pytest.approx([1 / 61 + 1 / 62, 1 / 61]) and scores[1, 2] == -np.inf
    rows, _ = fuse([A, B], Fusion(PLANS, rrf_k=0, weights=(3.0, 1.0)), k=2)
    assert rows.tolist() == [[3, 1], [0, 5]]  # 3/1 beats 3/2 + 1/1


def test_weighted_minmax_by_hand():
    rows, scores = fuse([A, B], Fusion(PLANS, method="weighted", weights=(1.0, 2.0)), k=4)
    # query 0: A normalizes 0.9, 0.5, 0.1 to 1, 0.5, 0; B 10, 5 to 1, 0 (x2). row 1: 0.5 + 2 = 2.5
    assert rows[0].tolist() == [1, 3, 2, 4] and scores[0].tolist() == pytest.approx([2.5, 1.0, 0.0, 0.0])
    # query 1: A has one candidate (normalized to 1), B: 3, 2 -> 1, 0
    assert rows[1, :2].tolist() == [5, 0] and scores[1, :2].tolist() == pytest.approx([2.0, 1.0])


def test_plans_validate():
    assert plan_vectors(Fusion((Nearest("a"), Fusion((Nearest("b"), Nearest("a"))))) ) == ["a", "b"]
    with pytest.raises(ValueError, match="at least two plans"):
        Fusion((Nearest("a"),))
    with pytest.raises(ValueError, match="needs 2 weights, got 1"):
        Fusion(PLANS, weights=(1.0,))
    with pytest.raises(ValueError, match="modifier 'idf' applies to sparse vectors only"):
        VectorSpec("dense", 8, modifier="idf")
    with pytest.raises(ValueError, match="a vector name is lower-case letters"):
        check_vector_name("Dense-1")
    assert Fusion(PLANS).candidates(10) == 100 and Fusion(PLANS, limit=20).candidates(10) == 20
