"""The conformance kit's multi-vector and sparse contracts, on the built-in exact index and on
encoders of each output kind."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.base import BaseEncoder
from embedspec.plugins import get_registry
from embedspec.representations import MultiVectors, SparseVectors
from embedspec.testing import ContractError, check_encoder
from embedspec.testing_indexes import check_multivector_index, check_sparse_index

TEXTS = ["a cat", "the dogs bark", "fish swim in the sea", "x"]


class WordVectors(BaseEncoder):
    """One 4-d vector per word, from the word's letters (a deterministic stand-in for token vectors)."""

    output_kind = "multi"
    dim = 4

    def _encode_batch(self, inputs, role):
        return MultiVectors.from_list([
            np.array([[len(w), ord(w[0]) % 7, ord(w[-1]) % 5, 1.0] for w in t.split()], dtype=np.float32)
            for t in inputs
        ])


class WordCounts(BaseEncoder):
    """Word counts hashed into 64 dimensions (sparse)."""

    output_kind = "sparse"
    dim = 64

    def _encode_batch(self, inputs, role):
        rows = []
        for t in inputs:
            counts: dict[int, float] = {}
            for w in t.split():
                counts[sum(map(ord, w)) % 64] = counts.get(sum(map(ord, w)) % 64, 0.0) + 1.0
            rows.append(counts)
        return SparseVectors.from_rows(rows, self.dim)


@pytest.mark.parametrize("encoder", [WordVectors(), WordCounts()], ids=["multi", "sparse"])
def test_encoders_of_each_kind_pass_the_encoder_contracts(encoder):
    check_encoder(encoder, TEXTS, round_trip=False)


def test_an_encoder_returning_another_kind_than_it_declares_fails_a_contract():
    class Liar(WordVectors):
        output_kind = "sparse"
        dim = 4

    with pytest.raises((ContractError, TypeError)):
        check_encoder(Liar(), TEXTS, round_trip=False)


def test_exact_passes_the_multi_vector_and_sparse_index_contracts():
    make = get_registry().get("index", "exact").create
    check_multivector_index(lambda: make({"metric": "dot"}))
    check_sparse_index(lambda: make({"metric": "dot"}))


def test_a_wrong_maxsim_is_caught():
    from embedspec.builtin.exact import ExactIndex

    class SumNotMax(ExactIndex):  # scores the first document vector only: not MaxSim
        def _maxsim_search(self, queries, k, rows):
            idx, scores = super()._maxsim_search(queries, k, rows)
            return idx, scores * 0.5

    with pytest.raises(ContractError, match="MaxSim search"):
        check_multivector_index(lambda: SumNotMax(metric="dot"))
