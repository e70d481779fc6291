"""Fixtures of the embedspec-bm25 tests: rank_bm25 with Lucene's IDF as the reference."""

from __future__ import annotations

import pytest
from bm25_reference import lucene_idf
from embedspec.testing_fixtures import pytest_configure, shared_data  # noqa: F401 - markers, data folder


@pytest.fixture(scope="session")
def reference_bm25():
    """``make(tokenized_corpus, k1, b)``: rank_bm25's BM25Okapi with Lucene's IDF (its own is
    ln((N - df + 0.5) / (df + 0.5)) floored at epsilon * mean idf; both sides use Lucene's)."""
    from rank_bm25 import BM25Okapi

    class LuceneBM25(BM25Okapi):
        def _calc_idf(self, nd: dict) -> None:
            for word, freq in nd.items():
                self.idf[word] = lucene_idf(self.corpus_size, freq)

    def make(tokenized: list[list[str]], k1: float, b: float) -> BM25Okapi:
        return LuceneBM25(tokenized, k1=k1, b=b)

    return make
