"""The minibatch training loop with early stopping on a validation set."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from embedspec.errors import EmbedspecError

from .model import Lookups, log_loss_terms, loss_and_grads, predict_logits
from .optim import make_optimizer


def validation_loss(params: dict[str, np.ndarray], lookups: Lookups, y: np.ndarray) -> float:
    """Mean log-loss of the model on ``lookups`` (no penalty)."""
    return float(log_loss_terms(predict_logits(params, lookups).astype(np.float64), y).mean())


def train(
    params: dict[str, np.ndarray],
    lookups: Lookups,
    y: np.ndarray,
    validation: tuple[Lookups, np.ndarray] | None,
    *,
    optimizer: str,
    learning_rate: float,
    l2: float,
    epochs: int,
    patience: int,
    batch_size: int,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]], int]:
    """Train ``params`` in place; return the best parameters, the per-epoch history and the best epoch.

    With a validation set, training stops after ``patience`` epochs without a lower validation
    log-loss and the parameters of the best epoch are returned; without one, those of the last epoch.
    """
    opt = make_optimizer(optimizer, params, learning_rate)
    n = lookups.m
    history: list[dict[str, Any]] = []
    best, best_loss, best_epoch, stale = None, math.inf, 0, 0
    for epoch in range(1, epochs + 1):
        perm = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            sel = perm[start : start + batch_size]
            loss, grads = loss_and_grads(params, lookups.take(sel), y[sel], l2)
            if not math.isfinite(loss):
                raise EmbedspecError(
                    f"training diverged: loss is {loss} in epoch {epoch}; lower learning_rate "
                    f"(now {learning_rate}) or init_scale"
                )
            opt.step(params, grads)
            total += loss * len(sel)
        record: dict[str, Any] = {"epoch": epoch, "train_loss": round(total / n, 6)}
        if validation is not None:
            val_loss = validation_loss(params, *validation)
            record["val_loss"] = round(val_loss, 6)
            if val_loss < best_loss - 1e-7:
                best = {k: v.copy() for k, v in params.items()}
                best_loss, best_epoch, stale = val_loss, epoch, 0
            else:
                stale += 1
        history.append(record)
        if validation is not None and stale >= patience:
            break
    if best is None:
        return params, history, len(history)
    return best, history, best_epoch
