"""``compass`` aligner: vectors of one CADE slice, read in another slice's space.

CADE aligns while it trains: every slice is fitted against the same frozen compass context matrix,
so its vectors are already in the compass's space and the map between two slices of one model is
the identity (Procrustes would instead learn a rotation per pair of independently trained slices).
This aligner states that in a spec so that vectors of different slices can be compared or indexed
together, and checks what it is given: loaded from a CADE state it verifies that ``source`` and
``target`` are slices of it and records their mean cosine over shared words (``anchor_cosine_``);
fitted on anchor pairs it checks that both sides have one dimension and records the pairs' mean cosine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from embedspec.base import BaseAligner, as_matrix, l2_normalize
from embedspec.component import STATE_JSON
from embedspec.errors import DimensionMismatchError
from embedspec.registry import ComponentConfig, PathField
from pydantic import Field


class CadeAlignerConfig(ComponentConfig):
    """Spec block of the ``compass`` aligner.

    .. code-block:: yaml

        aligner:
          type: compass
          state: ./models/cade-sotu     # a CADE state (or a directory written by this aligner's save())
          source: 19th                  # the slice the inputs come from
          target: 21st                  # the slice they are compared with
    """

    state: str | None = PathField(None, description="CADE state directory (or this aligner's own saved state)")
    source: str | None = Field(None, description="slice the input vectors come from (checked against the state)")
    target: str | None = Field(None, description="slice they are compared with (checked against the state)")
    normalize: bool = Field(True, description="L2-normalize the output vectors")


class CadeAligner(BaseAligner):
    """``(n, dim) -> (n, dim) float32``: the identity between slices of one CADE model."""

    Config = CadeAlignerConfig

    def check(self, *, deep: bool = False) -> None:
        from .state import check_state_field, is_state

        if self.state is not None and (Path(self.state) / STATE_JSON).is_file() and not is_state(Path(self.state)):
            return  # this aligner's own saved state
        check_state_field(self.state, {"source": self.source, "target": self.target})

    def fit(self, X_source: Any, X_target: Any) -> CadeAligner:
        Xs = as_matrix(X_source, name="source anchors")
        Xt = as_matrix(X_target, name="target anchors")
        if Xs.shape[0] != Xt.shape[0] or Xs.shape[0] == 0:
            raise ValueError(f"cade aligner needs paired anchors: {Xs.shape[0]} source rows, {Xt.shape[0]} target rows")
        if Xs.shape[1] != Xt.shape[1]:
            raise DimensionMismatchError(
                f"source anchors have dimension {Xs.shape[1]} and target anchors {Xt.shape[1]}: slices of one CADE "
                "model share their dimension (use the procrustes aligner for independently trained spaces)"
            )
        self.dim_ = int(Xs.shape[1])
        self.anchor_cosine_ = float(np.mean(np.sum(l2_normalize(Xs) * l2_normalize(Xt), axis=1)))
        return self

    def load(self, path: str | Path) -> CadeAligner:
        from .state import is_state

        path = Path(path)
        if (path / STATE_JSON).is_file() or not is_state(path):
            super().load(path)
            return self
        from .model import CadeModel

        spaces = CadeModel.load(path).spaces()
        names = [n for n in (self.source, self.target) if n is not None]
        for name in names:
            spaces[name]  # UnknownSliceError naming the state's slices
        self.dim_ = int(next(iter(spaces.values())).dim)
        if len(names) == 2:
            a, b = spaces[names[0]], spaces[names[1]]
            shared = [w for w in a.words if w in b.index]
            self.anchor_cosine_ = float(np.mean(np.sum(
                a.unit[[a.index[w] for w in shared]] * b.unit[[b.index[w] for w in shared]], axis=1)))
        return self

    def transform(self, X: Any) -> np.ndarray:
        self.check_fitted()
        X = as_matrix(X, name="vectors")
        if X.shape[1] != self.dim_:
            raise DimensionMismatchError(f"vectors have dimension {X.shape[1]}, the CADE spaces have {self.dim_}")
        return l2_normalize(X) if self.normalize else X.copy()

    def output_dim(self, input_dim: int) -> int:
        return input_dim
