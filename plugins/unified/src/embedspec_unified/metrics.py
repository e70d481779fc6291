"""Binary-classification metrics in numpy (used by the benchmark and the tests)."""

from __future__ import annotations

import numpy as np
from embedspec.eval.metrics import average_ranks


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), by the rank-sum (Mann-Whitney) formula."""
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_pos = float(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc needs both positive and negative targets")
    ranks = average_ranks(s)  # 1-based, ties averaged
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def log_loss(y_true: np.ndarray, proba: np.ndarray, eps: float = 1e-15) -> float:
    """Mean binary cross-entropy of probabilities ``proba`` (clipped to ``[eps, 1 - eps]``)."""
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.clip(np.asarray(proba, dtype=np.float64).reshape(-1), eps, 1 - eps)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())
