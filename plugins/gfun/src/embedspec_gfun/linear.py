"""Calibrated linear classifiers fitted with scikit-learn, applied from their saved coefficients.

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
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=2000, random_state=seed)


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


def fold_splits(Y: np.ndarray, folds: int, seed: int, multilabel: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) positions of a k-fold split, stratified by class when multi-class."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = Y.shape[0]
    k = min(folds, n)
    if k < 2:
        return iter(())
    dummy = np.zeros(n)
    if not multilabel:
        y = Y.argmax(axis=1)
        if np.bincount(y).max() >= k:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "least populated class" warning
                return iter(list(StratifiedKFold(k, shuffle=True, random_state=seed).split(dummy, y)))
    return iter(list(KFold(k, shuffle=True, random_state=seed).split(dummy)))


def out_of_fold_proba(
    X: Any, Y: np.ndarray, *, C: float, folds: int, seed: int, multilabel: bool
) -> tuple[LinearProbModel, np.ndarray]:
    """The model fitted on all rows, and ``(n, c)`` posteriors of each row from a model that never saw it."""
    model = fit_linear(X, Y, C=C, seed=seed, multilabel=multilabel)
    P = np.empty(Y.shape, dtype=np.float64)
    splits = list(fold_splits(Y, folds, seed, multilabel))
    if not splits:  # a single document: nothing to hold out
        return model, model.predict_proba(X)
    for train, held in splits:
        fold_model = fit_linear(X[train], Y[train], C=C, seed=seed, multilabel=multilabel)
        P[held] = fold_model.predict_proba(X[held])
    return model, P


@dataclass
class Standardizer:
    """``(X - mean) / scale`` with ``scale`` clipped away from 0 (constant columns pass through centred)."""

    mean: np.ndarray  # (d,) float64
    scale: np.ndarray  # (d,) float64

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        std = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(std < 1e-8, 1.0, std))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.scale
