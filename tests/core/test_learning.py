"""The core's logistic regression against scikit-learn (dense, sparse, weighted, binary, multinomial), and fuzz."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.errors import NotFittedError
from embedspec.learning import LogisticRegression, Standardizer

TIGHT = {"max_iter": 5000, "tol": 1e-10}  # scikit-learn converged far below our tolerance


def blobs(k: int, n: int = 300, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return rng.normal(size=(k, d))[y] + rng.normal(scale=2.0, size=(n, d)), y


def sklearn_lr():
    return pytest.importorskip("sklearn.linear_model", reason="optional reference: scikit-learn").LogisticRegression


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_scikit_learn(k, weighted):
    X, y = blobs(k)
    weights = np.random.default_rng(1).uniform(0.1, 3.0, len(y)) if weighted else None
    ours = LogisticRegression(C=0.3, tol=1e-8).fit(X, y, sample_weight=weights)
    ref = sklearn_lr()(C=0.3, **TIGHT).fit(X, y, sample_weight=weights)
    assert ours.coef_.shape == ref.coef_.shape == ((1, 12) if k == 2 else (k, 12))
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-5)
    np.testing.assert_allclose(ours.decision_function(X), ref.decision_function(X), atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_sparse_input_matches_dense_and_scikit_learn():
    sparse = pytest.importorskip("scipy.sparse", reason="sparse input needs scipy")
    rng = np.random.default_rng(2)
    X, y = blobs(3, n=200, d=40, seed=2)
    X[rng.random(X.shape) < 0.8] = 0.0  # mostly zeros, like TF-IDF
    csr = sparse.csr_matrix(X)
    ours = LogisticRegression(C=2.0, tol=1e-8).fit(csr, y)
    dense = LogisticRegression(C=2.0, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(ours.coef_, dense.coef_, atol=1e-10)
    ref = sklearn_lr()(C=2.0, **TIGHT).fit(csr, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(csr), ref.predict_proba(csr), atol=1e-6)


def test_multinomial_binary_is_the_sigmoid_model_with_twice_c():
    """Two softmax rows penalize ||w1||^2 + ||w0||^2 = ||w1 - w0||^2 / 2 at the optimum (w0 = -w1)."""
    X, y = blobs(2, seed=3)
    soft = LogisticRegression(C=0.5, multinomial=True, tol=1e-9).fit(X, y)
    sig = LogisticRegression(C=1.0, tol=1e-9).fit(X, y)
    assert soft.coef_.shape == (2, 12) and sig.coef_.shape == (1, 12)
    np.testing.assert_allclose(soft.coef_[1] - soft.coef_[0], sig.coef_[0], atol=1e-6)
    np.testing.assert_allclose(soft.coef_.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(soft.predict_proba(X), sig.predict_proba(X), atol=1e-7)


def test_deterministic_and_string_labels():
    X, y = blobs(3, seed=4)
    labels = np.array(["sport", "health", "travel"])[y]
    a = LogisticRegression().fit(X, labels)
    b = LogisticRegression().fit(X, labels)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.n_iter_ == b.n_iter_ and a.classes_.tolist() == ["health", "sport", "travel"]
    assert set(a.predict(X)) <= set(labels)
    np.testing.assert_allclose(a.predict_proba(X).sum(axis=1), 1.0)


def test_zero_weight_rows_are_ignored():
    X, y = blobs(3, seed=5)
    w = np.ones(len(y))
    w[::3] = 0.0
    keep = w > 0
    weighted = LogisticRegression(tol=1e-9).fit(X, y, sample_weight=w)
    subset = LogisticRegression(tol=1e-9).fit(X[keep], y[keep])
    np.testing.assert_allclose(weighted.coef_, subset.coef_, atol=1e-7)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: LogisticRegression(C=0).fit([[0.0], [1.0]], [0, 1]), "C must be a number > 0, got 0"),
    (lambda: LogisticRegression().fit([[0.0], [np.nan]], [0, 1]), "X holds NaN or infinity (first rows: [1])"),
    (lambda: LogisticRegression().fit([0.0, 1.0], [0, 1]), "X must be 2-dimensional (n, d), got shape (2,)"),
    (lambda: LogisticRegression().fit([[0.0], [1.0]], [0, 1, 1]), "X has 2 rows, y has shape (3,)"),
    (lambda: LogisticRegression().fit([[0.0], [1.0]], [1, 1]), "need at least 2 classes to train a classifier, got [1]"),
    (lambda: LogisticRegression().fit([[0.0], [1.0]], [0, 1], sample_weight=[1.0]), "got shape (1,)"),
    (lambda: LogisticRegression().fit([[0.0], [1.0]], [0, 1], sample_weight=[1.0, -1.0]), "finite, >= 0"),
    (lambda: LogisticRegression().fit([[0.0], [1.0]], [0, 1]).predict([[0.0, 1.0]]),
     "X has 2 features; the model was fitted on 1"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError) as exc:
        call()
    assert message in str(exc.value)


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        LogisticRegression().predict_proba([[0.0]])


def test_fuzz_inputs_fit_or_fail_cleanly():
    rng = np.random.default_rng(6)
    for _ in range(60):
        n, d, k = int(rng.integers(1, 30)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
        X = rng.normal(scale=float(rng.choice([1e-6, 1.0, 1e4])), size=(n, d))
        if rng.random() < 0.2:
            X[rng.integers(n), rng.integers(d)] = rng.choice([np.nan, np.inf])
        y = rng.integers(0, k, n)
        w = rng.uniform(-0.2, 2.0, n) if rng.random() < 0.3 else None
        try:
            model = LogisticRegression(C=float(rng.choice([1e-3, 1.0, 1e3])), max_iter=200).fit(X, y, sample_weight=w)
        except ValueError as exc:
            assert any(s in str(exc) for s in ("NaN or infinity", "at least 2 classes", "sample_weight")), exc
            continue
        P = model.predict_proba(X)
        assert P.shape == (n, len(np.unique(y))) and np.isfinite(P).all()
        np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_standardizer():
    X = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 2.0 + 1e-10]])
    s = Standardizer.fit(X)
    np.testing.assert_allclose(s.transform(X), [[-1.0, 0.0, -1.0], [1.0, 0.0, 1.0]])
    coarse = Standardizer.fit(X, min_scale=1e-8)  # gFun's threshold: the near-constant column is only centred
    np.testing.assert_allclose(coarse.scale, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(coarse.transform(X)[:, 2], [-5e-11, 5e-11])
