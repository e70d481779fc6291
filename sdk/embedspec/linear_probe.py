"""A multinomial logistic-regression probe in numpy (the core does not depend on scikit-learn).

Minimises ``mean cross-entropy + ||W||^2 / (2 * C * n)`` over standardized inputs with L-BFGS, the
objective of ``sklearn.linear_model.LogisticRegression(C=C)`` (multinomial, bias not penalized).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .errors import NotFittedError


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


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


class SoftmaxRegression:
    """Multinomial logistic regression on standardized features (a linear probe for embeddings).

    ``fit(X (n, d), labels)`` -> self; ``predict(X) -> labels``; ``predict_proba(X) -> (n, classes)``.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 500, tol: float = 1e-6) -> None:
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, labels: Sequence[Any]) -> SoftmaxRegression:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) != len(labels):
            raise ValueError(f"need X of shape (n, d) and n labels; got {X.shape} and {len(labels)} labels")
        if self.C <= 0:
            raise ValueError(f"C must be > 0, got {self.C}")
        self.classes_ = sorted(set(labels), key=str)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to train a classifier, got {self.classes_}")
        lookup = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([lookup[c] for c in labels])
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0)
        self.scale_[self.scale_ < 1e-12] = 1.0
        Z = (X - self.mean_) / self.scale_
        n, d = Z.shape
        k = len(self.classes_)
        onehot = np.zeros((n, k))
        onehot[np.arange(n), y] = 1.0
        lam = 1.0 / (self.C * n)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W, b = theta[: d * k].reshape(d, k), theta[d * k :]
            logits = Z @ W + b
            logits -= logits.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(logits).sum(axis=1))
            loss = float((log_norm - logits[np.arange(n), y]).mean() + 0.5 * lam * (W * W).sum())
            err = (_softmax(logits) - onehot) / n
            grad = np.concatenate([(Z.T @ err + lam * W).ravel(), err.sum(axis=0)])
            return loss, grad

        theta, self.n_iter_ = lbfgs(objective, np.zeros(d * k + k), max_iter=self.max_iter, tol=self.tol)
        self.coef_ = theta[: d * k].reshape(d, k)
        self.intercept_ = theta[d * k :]
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise NotFittedError("SoftmaxRegression is not fitted: call fit(X, labels) first")
        Z = (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_
        return Z @ self.coef_ + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        return _softmax(self.decision_function(X))

    def predict(self, X: Any) -> list[Any]:
        return [self.classes_[i] for i in self.decision_function(X).argmax(axis=1)]
