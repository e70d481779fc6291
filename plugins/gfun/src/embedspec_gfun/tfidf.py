"""Per-language TF-IDF: fitted with scikit-learn, applied from its saved vocabulary and idf.

State per language is the term list (JSON), the idf vector (npz) and the analyzer settings; the
transform (sublinear tf, idf weighting, L2 rows) is computed here from that state, so fitted and
restored vectorizers give identical matrices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Share of whitespace below which a language's script counts as unspaced (Chinese, Japanese, Thai).
UNSPACED_RATIO = 0.05
WORD_SETTINGS: dict[str, Any] = {"analyzer": "word", "ngram_range": [1, 1], "lowercase": True}
CHAR_SETTINGS: dict[str, Any] = {"analyzer": "char_wb", "ngram_range": [1, 3], "lowercase": True}


def choose_settings(texts: Sequence[str], analyzer: str) -> dict[str, Any]:
    """Token settings for one language: words, or character n-grams for unspaced scripts."""
    if analyzer == "word":
        return dict(WORD_SETTINGS)
    if analyzer == "char":
        return dict(CHAR_SETTINGS)
    chars = sum(len(t) for t in texts)
    spaces = sum(t.count(" ") for t in texts)
    return dict(CHAR_SETTINGS if chars and spaces / chars < UNSPACED_RATIO else WORD_SETTINGS)


def _counter(settings: dict[str, Any], vocabulary: Sequence[str] | None = None, min_df: int = 1) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        analyzer=settings["analyzer"],
        ngram_range=tuple(settings["ngram_range"]),
        lowercase=settings["lowercase"],
        vocabulary=list(vocabulary) if vocabulary is not None else None,
        min_df=1 if vocabulary is not None else min_df,
        dtype=np.float64,
    )


@dataclass
class LanguageTfidf:
    """One language's TF-IDF: ``terms`` (index order), ``idf (v,) float64``, analyzer ``settings``."""

    terms: list[str]
    idf: np.ndarray
    settings: dict[str, Any]

    @classmethod
    def fit(cls, texts: Sequence[str], *, analyzer: str, min_df: int) -> LanguageTfidf:
        settings = choose_settings(texts, analyzer)
        counter = _counter(settings, min_df=min_df if len(texts) > 1 else 1)
        try:
            counts = counter.fit_transform(list(texts))
        except ValueError:  # empty vocabulary (e.g. only stop characters)
            return cls([], np.zeros(0), settings)
        terms = list(counter.get_feature_names_out())
        df = np.asarray((counts > 0).sum(axis=0)).ravel().astype(np.float64)
        idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0  # sklearn's smooth idf
        return cls(terms, idf, settings)

    def transform(self, texts: Sequence[str]) -> Any:
        """``(n, v)`` scipy CSR float64, rows L2-normalized (all-zero for texts with no known term)."""
        import scipy.sparse as sp

        if not self.terms:
            return sp.csr_matrix((len(texts), 0), dtype=np.float64)
        counter = _counter(self.settings, self.terms)
        X = counter.transform(list(texts)).tocsr().astype(np.float64)
        X.data = 1.0 + np.log(X.data)  # sublinear tf
        X = X @ sp.diags(self.idf)
        X = X.tocsr()
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return (sp.diags(1.0 / norms) @ X).tocsr()
