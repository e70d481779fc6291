"""Classification by a linear probe: softmax regression on a pipeline's embeddings, F1 on a test split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NotFittedError
from ..learning import LogisticRegression, Standardizer
from .datasets import load_classification
from .encoding import CachingEncoder, through_encoder
from .metrics import f1_scores


class LinearProbe:
    """Multinomial logistic regression (``embedspec.learning``) on standardized embeddings.

    ``fit(X (n, d), labels)`` -> self; ``predict(X) -> labels``; ``predict_proba(X) -> (n, classes)``
    with columns in ``classes_`` order (labels sorted as strings). Every class has its softmax row,
    two-class problems included; ``model_`` is the fitted ``LogisticRegression``.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 500, tol: float = 1e-6) -> None:
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, labels: Sequence[Any]) -> LinearProbe:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) != len(labels):
            raise ValueError(f"need X of shape (n, d) and n labels; got {X.shape} and {len(labels)} labels")
        self.classes_ = sorted(set(labels), key=str)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to train a classifier, got {self.classes_}")
        lookup = {c: i for i, c in enumerate(self.classes_)}
        self.standardizer_ = Standardizer.fit(X)
        model = LogisticRegression(self.C, multinomial=True, max_iter=self.max_iter, tol=self.tol)
        self.model_ = model.fit(self.standardizer_.transform(X), np.array([lookup[c] for c in labels]))
        return self

    def _standardized(self, X: Any) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("LinearProbe is not fitted: call fit(X, labels) first")
        return self.standardizer_.transform(X)

    def decision_function(self, X: Any) -> np.ndarray:
        """``(n, classes)`` logits."""
        return self.model_.decision_function(self._standardized(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.model_.predict_proba(self._standardized(X))

    def predict(self, X: Any) -> list[Any]:
        return [self.classes_[i] for i in self.decision_function(X).argmax(axis=1)]


def evaluate_classification(
    pipeline: Any, folder: str | Path, *, batch_size: int = 256, C: float = 1.0
) -> dict[str, Any]:
    """Train a linear probe on the train split's embeddings; macro/micro-F1 on test.

    Encodes with the pipeline's encoder and aligner; ``pipeline`` is neither changed nor closed.
    """
    train, test = load_classification(folder)
    encoder = CachingEncoder(pipeline.encoder)
    view = through_encoder(pipeline, encoder)
    X_train = view.encode(train.texts, role="document", batch_size=batch_size)
    X_test = view.encode(test.texts, role="document", batch_size=batch_size)
    probe = LinearProbe(C=C).fit(X_train, train.labels)
    scores = f1_scores(test.labels, probe.predict(X_test))
    return {
        "task": "classification",
        "folder": str(folder),
        "num_train": len(train.texts),
        "num_test": len(test.texts),
        "num_labels": len(probe.classes_),
        **scores,
        "probe": {"model": "softmax regression (L-BFGS, standardized inputs)", "C": C,
                  "iterations": probe.model_.n_iter_},
        "encode_docs_per_s": encoder.timing.per_second("document"),
        "spec": pipeline.to_spec(),
    }
