"""Calibrated linear classifiers fitted with the core's logistic regression, applied from their saved
coefficients.

Multi-class: multinomial logistic regression (softmax posteriors that sum to 1). Multi-label: one
binary logistic regression per class (sigmoid posteriors). Prediction is plain numpy over the stored
``coef (c, d)`` and ``intercept (c,)``, so a model restored from ``.npz`` predicts identically.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from embedspec.learning import LogisticRegression

#: Log-odds given to a class with no training example in the data a model was fitted on.
ABSENT_LOGIT = -30.0


@dataclass
class LinearProbModel:
    """Posteriors ``softmax(X @ coef.T + intercept)`` (multi-class) or ``sigmoid(...)`` (multi-label)."""

    coef: np.ndarray  # (c, d) float64
    intercept: np.ndarray  # (c,) float64
    multilabel: bool

    def decision(self, X: Any) -> np.ndarray:
        """``(n, c) float64`` scores; ``X`` is dense ``(n, d)`` or scipy sparse."""
        scores = X @ self.coef.T
        return np.asarray(scores, dtype=np.float64) + self.intercept

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, c) float64`` posteriors (rows sum to 1 when multi-class)."""
        S = self.decision(X)
        if self.multilabel:
            return 0.5 * (1.0 + np.tanh(0.5 * S))  # numerically stable sigmoid
        S = S - S.max(axis=1, keepdims=True)
        E = np.exp(S)
        return E / E.sum(axis=1, keepdims=True)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.coef": self.coef, f"{prefix}.intercept": self.intercept}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str, multilabel: bool) -> LinearProbModel:
        return cls(arrays[f"{prefix}.coef"], arrays[f"{prefix}.intercept"], multilabel)


def _logistic(C: float, seed: int) -> Any:
    """The core's logistic regression (``embedspec.learning``): scikit-learn's objective, deterministic."""
    return LogisticRegression(C=C, max_iter=2000)


def row_basis(X: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """For ``X (n, d)`` with ``d > n``: ``Z (n, r)`` and ``back (r, n)`` with ``X = Z @ V.T``, where
    ``V = (back @ X).T`` has orthonormal columns spanning the rows of ``X``; None when ``X`` is zero.

    An L2-penalized linear model's weights lie in that span (representer theorem), so fitting on ``Z``
    (``r <= n`` columns) and mapping the weights back, ``W = W_Z @ back @ X``, solves the same problem
    with far fewer parameters: per-language tf-idf has 5-45k terms for 700 documents. Directions of
    ``X X^T`` below ``1e-10`` of the largest eigenvalue are dropped.
    """
    K = X @ X.T
    K = np.asarray(K.toarray() if hasattr(K, "toarray") else K, dtype=np.float64)
    lam, U = np.linalg.eigh(K)
    if lam[-1] <= 0:
        return None
    keep = lam > 1e-10 * lam[-1]
    root = np.sqrt(lam[keep])
    return U[:, keep] * root, (U[:, keep] / root).T


def fit_linear(X: Any, Y: np.ndarray, *, C: float, seed: int = 0, multilabel: bool) -> LinearProbModel:
    """Fit on ``X (n, d)`` and 0/1 targets ``Y (n, c)``; classes absent from ``Y`` get ~0 posterior."""
    n, c = Y.shape
    d = X.shape[1]
    coef = np.zeros((c, d), dtype=np.float64)
    intercept = np.full(c, ABSENT_LOGIT, dtype=np.float64)
    if multilabel:
        for j in range(c):
            pos = int(Y[:, j].sum())
            if 0 < pos < n:
                clf = _logistic(C, seed).fit(X, Y[:, j].astype(np.int64))
                coef[j], intercept[j] = clf.coef_[0], clf.intercept_[0]
            else:  # constant column: smoothed prior, no dependence on X
                p = (pos + 0.5) / (n + 1.0)
                intercept[j] = np.log(p / (1.0 - p))
        return LinearProbModel(coef, intercept, True)
    y = Y.argmax(axis=1)
    present = np.unique(y)
    if len(present) == 1:
        intercept[present[0]] = 0.0
        return LinearProbModel(coef, intercept, False)
    clf = _logistic(C, seed).fit(X, y)
    if len(present) == 2:  # sklearn keeps one row for binary problems: split it symmetrically
        coef[present[1]], intercept[present[1]] = clf.coef_[0] / 2, clf.intercept_[0] / 2
        coef[present[0]], intercept[present[0]] = -clf.coef_[0] / 2, -clf.intercept_[0] / 2
    else:
        coef[clf.classes_] = clf.coef_
        intercept[clf.classes_] = clf.intercept_
    return LinearProbModel(coef, intercept, False)


def fold_splits(
    Y: np.ndarray, folds: int, seed: int, multilabel: bool, groups: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) positions of a k-fold split, stratified by class when multi-class.

    ``groups (n,)``: rows sharing a group id (e.g. translations of one sentence) fall in one fold.
    """
    from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold

    n = Y.shape[0]
    k = min(folds, n if groups is None else len(np.unique(groups)))
    if k < 2:
        return iter(())
    dummy = np.zeros(n)
    if not multilabel:
        y = Y.argmax(axis=1)
        if np.bincount(y).max() >= k:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "least populated class" warning
                if groups is not None:
                    splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
                    return iter(list(splitter.split(dummy, y, groups)))
                return iter(list(StratifiedKFold(k, shuffle=True, random_state=seed).split(dummy, y)))
    if groups is not None:
        return iter(_group_folds(groups, k, seed))
    return iter(list(KFold(k, shuffle=True, random_state=seed).split(dummy)))


def _group_folds(groups: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds of whole groups: groups shuffled, then split into k runs of (nearly) equal group counts."""
    ids, inverse = np.unique(groups, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(ids))
    fold_of_group = np.empty(len(ids), dtype=np.int64)
    fold_of_group[order] = np.arange(len(ids)) * k // len(ids)
    fold = fold_of_group[inverse]
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]
