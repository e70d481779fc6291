"""Minibatch optimizers with sparse row updates of the table: only the rows a batch touched change.

The table's gradient arrives as ``(rows (u,), grads (u, chunk_dim))``; its optimizer state (Adam
moments, Adagrad accumulators) is read and written on those rows only ("lazy" Adam, as in
TensorFlow's LazyAdam). Head parameters are dense.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Adam:
    def __init__(self, params: dict[str, np.ndarray], lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, Any]) -> None:
        self.t += 1
        scale = self.lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for name, grad in grads.items():
            if name == "table":
                rows, g = grad
                m = self.beta1 * self.m[name][rows] + (1 - self.beta1) * g
                v = self.beta2 * self.v[name][rows] + (1 - self.beta2) * g * g
                self.m[name][rows], self.v[name][rows] = m, v
                params[name][rows] -= (scale * m / (np.sqrt(v) + self.eps)).astype(params[name].dtype)
            else:
                m, v = self.m[name], self.v[name]
                m *= self.beta1
                m += (1 - self.beta1) * grad
                v *= self.beta2
                v += (1 - self.beta2) * grad * grad
                params[name] -= (scale * m / (np.sqrt(v) + self.eps)).astype(params[name].dtype)


class Adagrad:
    """Adagrad as in PyTorch (accumulators start at 0, ``eps`` in the denominator)."""

    def __init__(self, params: dict[str, np.ndarray], lr: float, eps: float = 1e-10) -> None:
        self.lr, self.eps = lr, eps
        self.acc = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, Any]) -> None:
        for name, grad in grads.items():
            if name == "table":
                rows, g = grad
                acc = self.acc[name][rows] + g * g
                self.acc[name][rows] = acc
                params[name][rows] -= (self.lr * g / (np.sqrt(acc) + self.eps)).astype(params[name].dtype)
            else:
                self.acc[name] += grad * grad
                params[name] -= (self.lr * grad / (np.sqrt(self.acc[name]) + self.eps)).astype(params[name].dtype)


def make_optimizer(name: str, params: dict[str, np.ndarray], lr: float) -> Adam | Adagrad:
    if name == "adam":
        return Adam(params, lr)
    if name == "adagrad":
        return Adagrad(params, lr)
    raise ValueError(f"unknown optimizer {name!r}; use 'adam' or 'adagrad'")
