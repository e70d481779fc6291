"""Linear models in numpy, for the core and the plugins (the core does not depend on scikit-learn).

``LogisticRegression`` minimises scikit-learn's objective for ``LogisticRegression(C=C)`` (L2 penalty,
bias not penalized, optional sample weights)::

    sum_i w_i * loss_i / sum_i w_i  +  ||coef||^2 / (2 * C * sum_i w_i)

with ``lbfgs`` from zero: deterministic, and equal to scikit-learn's solution to the solver's
tolerance. Inputs are dense ``(n, d)`` arrays or scipy sparse matrices (never densified).
``Standardizer`` is the ``(X - mean) / std`` step a linear probe applies first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import NotFittedError


def lbfgs(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    max_iter: int = 500,
    tol: float = 1e-6,
    memory: int = 10,
) -> tuple[np.ndarray, int]:
    """Minimise a smooth ``fun(x) -> (value, gradient)``; returns ``(x, iterations)``.

    Two-loop L-BFGS with a backtracking (Armijo) line search; stops when ``max|gradient| < tol``.
    """
    x = x0.astype(np.float64, copy=True)
    f, g = fun(x)
    pairs: list[tuple[np.ndarray, np.ndarray, float]] = []
    for it in range(1, max_iter + 1):
        if np.abs(g).max() < tol:
            return x, it - 1
        q = g.copy()
        alphas = []
        for s, y, rho in reversed(pairs):
            a = rho * (s @ q)
            alphas.append(a)
            q -= a * y
        if pairs:
            s, y, _ = pairs[-1]
            q *= (s @ y) / (y @ y)
        else:
            q /= max(np.linalg.norm(g), 1.0)
        for (s, y, rho), a in zip(pairs, reversed(alphas)):
            q += s * (a - rho * (y @ q))
        direction = -q
        slope = g @ direction
        if slope >= 0:  # not a descent direction: restart from steepest descent
            pairs.clear()
            direction, slope = -g, -(g @ g)
        step = 1.0
        while True:
            x_new = x + step * direction
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, y = x_new - x, g_new - g
        sy = s @ y
        if sy > 1e-12:
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
        if abs(f - f_new) <= 1e-12 * max(1.0, abs(f)) and step < 1e-10:
            return x_new, it
        x, f, g = x_new, f_new, g_new
    return x, max_iter


def _is_sparse(X: Any) -> bool:
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def _features(X: Any) -> Any:
    """``X`` as a finite float64 ``(n, d)`` array, or a CSR matrix when it is scipy sparse."""
    if _is_sparse(X):
        X = X.tocsr().astype(np.float64)
        values = X.data
    else:
        X = np.asarray(X, dtype=np.float64)
        values = X
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (n, d), got shape {X.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        rows = np.searchsorted(X.indptr, bad, side="right") - 1 if _is_sparse(X) else bad // max(X.shape[1], 1)
        raise ValueError(f"X holds NaN or infinity (first rows: {sorted(set(rows.tolist()))[:5]})")
    return X


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class LogisticRegression:
    """L2-penalized logistic regression: scikit-learn's objective and layout, fitted with ``lbfgs``.

    ``fit(X (n, d), y (n,), sample_weight=None)`` -> self. Two classes give one sigmoid row
    (``coef_ (1, d)``, as scikit-learn) unless ``multinomial=True``, which fits softmax rows for every
    class (two included; the penalty then acts on both rows, like ``C`` twice as large on one row).
    More classes give ``coef_ (k, d)`` softmax rows. ``classes_`` are the sorted distinct labels,
    ``intercept_`` ``(rows,)``, ``n_iter_`` the L-BFGS iterations. Class weights are sample weights.
    """

    def __init__(self, C: float = 1.0, *, multinomial: bool = False, max_iter: int = 500, tol: float = 1e-6) -> None:
        self.C = C
        self.multinomial = multinomial
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticRegression:
        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ValueError(f"C must be a number > 0, got {self.C!r}")
        X = _features(X)
        y = np.asarray(y)
        n = X.shape[0]
        if y.shape != (n,):
            raise ValueError(f"need one label per row of X: X has {n} rows, y has shape {y.shape}")
        weights = self._weights(sample_weight, n)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to train a classifier, got {self.classes_.tolist()}")
        lam = 1.0 / (self.C * weights.sum())
        if len(self.classes_) == 2 and not self.multinomial:
            self._fit_sigmoid(X, codes.astype(np.float64), weights, lam)
        else:
            self._fit_softmax(X, codes, weights, lam)
        return self

    @staticmethod
    def _weights(sample_weight: Any, n: int) -> np.ndarray:
        if sample_weight is None:
            return np.ones(n)
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,):
            raise ValueError(f"sample_weight must have one value per row of X ({n}), got shape {w.shape}")
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("sample_weight must be finite, >= 0, with a positive sum")
        return w

    def _fit_softmax(self, X: Any, y: np.ndarray, w: np.ndarray, lam: float) -> None:
        n, d = X.shape
        k = len(self.classes_)
        onehot = np.zeros((n, k))
        onehot[np.arange(n), y] = 1.0
        total = w.sum()

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W, b = theta[: d * k].reshape(d, k), theta[d * k :]
            logits = X @ W + b
            logits -= logits.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(logits).sum(axis=1))
            loss = float((w * (log_norm - logits[np.arange(n), y])).sum() / total + 0.5 * lam * (W * W).sum())
            err = (_softmax(logits) - onehot) * w[:, None] / total
            return loss, np.concatenate([(X.T @ err + lam * W).ravel(), err.sum(axis=0)])

        theta, self.n_iter_ = lbfgs(objective, np.zeros(d * k + k), max_iter=self.max_iter, tol=self.tol)
        self.coef_ = theta[: d * k].reshape(d, k).T  # (k, d), a view whose .T is the (d, k) matrix used above
        self.intercept_ = theta[d * k :]

    def _fit_sigmoid(self, X: Any, t: np.ndarray, w: np.ndarray, lam: float) -> None:
        d = X.shape[1]
        total = w.sum()

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            coef, b = theta[:d], theta[d]
            z = X @ coef + b
            loss = float((w * (np.logaddexp(0.0, z) - t * z)).sum() / total + 0.5 * lam * (coef @ coef))
            err = (np.exp(-np.logaddexp(0.0, -z)) - t) * w / total
            return loss, np.concatenate([X.T @ err + lam * coef, [err.sum()]])

        theta, self.n_iter_ = lbfgs(objective, np.zeros(d + 1), max_iter=self.max_iter, tol=self.tol)
        self.coef_ = theta[:d].reshape(1, d)
        self.intercept_ = theta[d:]

    def decision_function(self, X: Any) -> np.ndarray:
        """``(n,)`` log-odds of ``classes_[1]`` (one sigmoid row) or ``(n, k)`` softmax logits."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("LogisticRegression is not fitted: call fit(X, y) first")
        X = _features(X)
        if X.shape[1] != self.coef_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features; the model was fitted on {self.coef_.shape[1]}")
        scores = np.asarray(X @ self.coef_.T) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, k) float64`` class probabilities, columns in ``classes_`` order; rows sum to 1."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = np.exp(-np.logaddexp(0.0, -scores))
            return np.column_stack([1.0 - p, p])
        return _softmax(scores)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@dataclass
class Standardizer:
    """``(X - mean) / scale``; a column whose std is below ``min_scale`` keeps scale 1 (centred only)."""

    mean: np.ndarray  # (d,) float64
    scale: np.ndarray  # (d,) float64

    @classmethod
    def fit(cls, X: Any, min_scale: float = 1e-12) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        std = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(std < min_scale, 1.0, std))

    def transform(self, X: Any) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.scale
