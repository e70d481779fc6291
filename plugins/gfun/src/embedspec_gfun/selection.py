"""Model selection: the ``C`` of a calibrated linear classifier chosen from a small grid.

Every classifier gFun trains (per-language first tier, recasting classifiers, metaclassifiers) goes
through :func:`select_linear`, which calls :func:`.linear.fit_linear` and nothing else, so the fitting
routine can be swapped in one place.

- **Cross-validation** (default): for each ``C``, out-of-fold posteriors of every training row from
  the same k folds; the score is macro-F1 of those predictions, ties broken by lower log-loss. The
  out-of-fold posteriors of the chosen ``C`` are returned too: they are the training input of the
  next tier, so selection costs no extra fits beyond ``len(grid) x folds``.
- **Validation set**: each ``C`` fitted on all training rows and scored on the given rows; the
  out-of-fold posteriors are then computed for the chosen ``C`` only.

``groups`` keep documents that are translations of one another (a parallel corpus) in one fold:
otherwise a held-out document's translation sits in the training folds, the out-of-fold posteriors
of language-independent views are over-confident and selection prefers too little regularization.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .linear import LinearProbModel, fit_linear, fold_splits, row_basis

#: Default grids (documented in docs/gfun.md). First tier: per-language classifiers on L2-normalized
#: sparse tf-idf, which want weak regularization (on SIB-200 the choice is 1000 or 10000), in decades.
FIRST_TIER_GRID: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, 10000.0)
#: Recasting classifiers (a view -> posteriors, all languages together), half-decades.
MAPPING_GRID: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: Metaclassifiers (standardized aggregated vectors, all languages together; flat near the optimum), decades.
META_GRID: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)


def as_grid(value: float | Sequence[float]) -> tuple[float, ...]:
    """A fixed ``C`` or a grid of them, as a sorted tuple of distinct floats."""
    values = [value] if isinstance(value, (int, float)) else list(value)
    return tuple(sorted({float(v) for v in values}))


def first_appearance_codes(ids: np.ndarray) -> np.ndarray:
    """``(n,) int64``: each id replaced by the rank of its first appearance (``[7, 3, 7] -> [0, 1, 0]``)."""
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def macro_f1(Y: np.ndarray, P: np.ndarray, *, multilabel: bool, threshold: float) -> float:
    """Macro-F1 of posteriors ``P (n, c)`` against 0/1 ``Y (n, c)``, over the classes present in the gold
    labels or the predictions (scikit-learn's ``f1_score(average="macro")`` with its default labels)."""
    if multilabel:
        pred = P >= threshold
    else:
        pred = np.zeros(P.shape, dtype=bool)
        pred[np.arange(len(P)), P.argmax(axis=1)] = True
    gold = Y > 0.5
    tp = (pred & gold).sum(axis=0)
    fp = (pred & ~gold).sum(axis=0)
    fn = (~pred & gold).sum(axis=0)
    present = (tp + fp + fn) > 0
    if not present.any():
        return 0.0
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(len(tp), dtype=np.float64), where=present)
    return float(f1[present].mean())


def log_loss(Y: np.ndarray, P: np.ndarray, *, multilabel: bool) -> float:
    """Mean cross-entropy (multi-class) or mean per-class binary cross-entropy (multi-label)."""
    P = np.clip(P, 1e-15, 1 - 1e-15)
    if multilabel:
        return float(-(Y * np.log(P) + (1 - Y) * np.log(1 - P)).mean())
    return float(-(Y * np.log(P)).sum(axis=1).mean())


@dataclass(frozen=True)
class Selection:
    """How to choose ``C``: the ``grid``, the k-fold (``folds``, ``seed``, ``groups (n,)`` or None) and
    the label kind (``multilabel``, ``threshold`` for multi-label F1)."""

    grid: tuple[float, ...]
    folds: int
    seed: int
    multilabel: bool
    threshold: float = 0.5
    groups: np.ndarray | None = None

    def rows(self, positions: np.ndarray) -> Selection:
        """The same selection for a subset of the training rows (e.g. one language); group ids are
        renumbered in order of first appearance, so the subset's folds do not depend on the other rows."""
        return replace(self, groups=None if self.groups is None else first_appearance_codes(self.groups[positions]))

    def with_grid(self, grid: tuple[float, ...]) -> Selection:
        return replace(self, grid=grid)

    def splits(self, Y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(fold_splits(Y, self.folds, self.seed, self.multilabel, self.groups))


@dataclass
class Selected:
    """A selection's outcome: the ``model`` refitted on all rows with the chosen ``C``, the ``(n, c)``
    out-of-fold posteriors of the training rows for that ``C`` (``None`` when not asked for) and the
    ``scores`` ``{C: macro-F1}`` (out-of-fold, or on the validation rows; empty when nothing was chosen)."""

    model: LinearProbModel
    C: float
    oof: np.ndarray | None
    scores: dict[float, float]


class _Fits:
    """``fit_linear`` on the training rows or on one fold's, for any ``C``. Wide inputs (``d > n``) are
    fitted in the row space of their rows (:func:`.linear.row_basis`), computed once per set of rows and
    shared by the whole grid; the returned ``coef`` is in the original ``d`` columns."""

    def __init__(self, X: Any, Y: np.ndarray, sel: Selection) -> None:
        self.X, self.Y, self.sel = X, Y, sel
        self.bases: dict[int, Any] = {}

    def fit(self, C: float, fold: int = -1, rows: np.ndarray | None = None) -> LinearProbModel:
        X, Y = (self.X, self.Y) if rows is None else (self.X[rows], self.Y[rows])
        if X.shape[1] <= X.shape[0]:
            return fit_linear(X, Y, C=C, seed=self.sel.seed, multilabel=self.sel.multilabel)
        if fold not in self.bases:
            self.bases[fold] = row_basis(X)
        if self.bases[fold] is None:  # an all-zero X: nothing to reparametrize
            return fit_linear(X, Y, C=C, seed=self.sel.seed, multilabel=self.sel.multilabel)
        Z, back = self.bases[fold]
        model = fit_linear(Z, Y, C=C, seed=self.sel.seed, multilabel=self.sel.multilabel)
        coef = np.asarray((X.T @ (model.coef @ back).T).T, dtype=np.float64)  # (c, d) = coef_Z @ back @ X
        return LinearProbModel(coef, model.intercept, model.multilabel)

    def out_of_fold(self, C: float, splits: list, full: LinearProbModel | None = None) -> np.ndarray:
        """``(n, c)`` posteriors of each row from the model of the fold that held it out."""
        if not splits:  # a single document: nothing to hold out
            return (full if full is not None else self.fit(C)).predict_proba(self.X)
        P = np.empty(self.Y.shape, dtype=np.float64)
        for fold, (train, held) in enumerate(splits):
            P[held] = self.fit(C, fold, train).predict_proba(self.X[held])
        return P


def _best(scores: dict[float, tuple[float, float]]) -> float:
    """Highest macro-F1; ties go to the lower log-loss, then to the smaller ``C``."""
    return min(scores, key=lambda C: (-scores[C][0], scores[C][1], C))


def select_linear(
    X: Any,
    Y: np.ndarray,
    sel: Selection,
    *,
    validation: tuple[Any, np.ndarray] | None = None,
    out_of_fold: bool = True,
) -> Selected:
    """Choose ``C`` in ``sel.grid`` for a classifier of ``X (n, d)`` (dense or sparse) and 0/1 ``Y (n, c)``.

    ``validation=(X_val, Y_val)`` scores each ``C`` on those rows instead of by cross-validation (when it
    has at least one row). ``out_of_fold=False`` skips the out-of-fold posteriors when no tier needs them.
    """
    splits = sel.splits(Y)
    fits = _Fits(X, Y, sel)
    has_validation = validation is not None and validation[1].shape[0] > 0
    if len(sel.grid) == 1:
        C = sel.grid[0]
        model = fits.fit(C)
        return Selected(model, C, fits.out_of_fold(C, splits, model) if out_of_fold else None, {})
    raw: dict[float, tuple[float, float]] = {}
    if has_validation:
        X_val, Y_val = validation  # type: ignore[misc]
        models = {}
        for C in sel.grid:
            models[C] = fits.fit(C)
            P = models[C].predict_proba(X_val)
            raw[C] = (macro_f1(Y_val, P, multilabel=sel.multilabel, threshold=sel.threshold),
                      log_loss(Y_val, P, multilabel=sel.multilabel))
        C = _best(raw)
        oof = fits.out_of_fold(C, splits, models[C]) if out_of_fold else None
        return Selected(models[C], C, oof, {c: s[0] for c, s in raw.items()})
    if not splits:  # one training row: nothing to cross-validate, keep the strongest regularization
        return select_linear(X, Y, sel.with_grid(sel.grid[:1]), out_of_fold=out_of_fold)
    oofs = {}
    for C in sel.grid:
        oofs[C] = fits.out_of_fold(C, splits)
        raw[C] = (macro_f1(Y, oofs[C], multilabel=sel.multilabel, threshold=sel.threshold),
                  log_loss(Y, oofs[C], multilabel=sel.multilabel))
    C = _best(raw)
    return Selected(fits.fit(C), C, oofs[C] if out_of_fold else None, {c: s[0] for c, s in raw.items()})
