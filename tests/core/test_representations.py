"""Output kinds: MultiVectors and SparseVectors are checked when made, kinds are checked along the chain."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.base import BaseCompressor, BaseEncoder, BaseIndex
from embedspec.chain import check_chain
from embedspec.errors import DimensionMismatchError
from embedspec.plugins import get_registry
from embedspec.representations import MultiVectors, SparseVectors, kind_of


def test_multivectors_layout_take_and_concat():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((t, 4)).astype(np.float32) for t in (3, 1, 5)]
    mv = MultiVectors.from_list(arrays)
    assert len(mv) == 3 and mv.dim == 4 and mv.lengths.tolist() == [3, 1, 5]
    assert mv.offsets.tolist() == [0, 3, 4, 9] and mv.nbytes == 9 * 4 * 4 + 4 * 8
    for got, want in zip(mv, arrays, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(mv[-1], arrays[2])
    taken = mv.take([2, 0, 2])
    assert taken.lengths.tolist() == [5, 3, 5]
    np.testing.assert_array_equal(taken[1], arrays[0])
    np.testing.assert_array_equal(taken[2], arrays[2])
    both = MultiVectors.concat([mv, taken])
    assert len(both) == 6 and both.offsets[-1] == 22
    np.testing.assert_array_equal(both[3], arrays[2])
    assert len(mv.take([])) == 0 and kind_of(mv) == "multi"


def test_multivectors_are_read_only_and_leave_the_callers_array_alone():
    data = np.ones((2, 3), dtype=np.float32)
    mv = MultiVectors(data, np.array([0, 1, 2]))
    with pytest.raises(ValueError):
        mv.data[0, 0] = 5
    data[0, 0] = 7  # the caller's array stays writable
    assert data.flags.writeable


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ([np.ones((2, 3)), np.ones((2, 4))], "input at position 1 has vectors of dimension 4, expected 3"),
        ([np.ones((2, 3)), np.ones((0, 3))], "input at position 1 has no vectors"),
        ([np.ones((2, 3)), np.array([[1.0, np.nan, 0.0]])], "input at position 1 has NaN"),
        ([np.ones(3)], "input at position 0: a multi-vector must be a 2-D array"),
    ],
)
def test_bad_multivectors_name_the_input(arrays, message):
    with pytest.raises(ValueError, match=message):
        MultiVectors.from_list(arrays)


def test_multivector_offsets_are_checked():
    with pytest.raises(ValueError, match="run from 0 to the number of rows"):
        MultiVectors(np.ones((3, 2)), np.array([0, 2]))
    with pytest.raises(ValueError, match="decrease at input 1"):
        MultiVectors(np.ones((3, 2)), np.array([0, 4, 3]))


def test_sparse_rows_sorted_and_equal_to_a_dense_reference():
    sv = SparseVectors.from_rows([([5, 1], [0.5, 2.0]), {}, {3: 1.5}], dim=8)
    assert sv.indptr.tolist() == [0, 2, 2, 3] and sv.indices.tolist() == [1, 5, 3]
    assert sv.nnz.tolist() == [2, 0, 1] and kind_of(sv) == "sparse"
    dense = np.zeros((3, 8), dtype=np.float32)
    dense[0, 1], dense[0, 5], dense[2, 3] = 2.0, 0.5, 1.5
    np.testing.assert_array_equal(sv.to_scipy().toarray(), dense)
    q = SparseVectors.from_rows([{1: 1.0, 3: 2.0}], dim=8)
    np.testing.assert_allclose((sv.to_scipy() @ q.to_scipy().T).toarray().ravel(), dense @ np.array(
        [0, 1, 0, 2, 0, 0, 0, 0], dtype=np.float32))
    taken = SparseVectors.concat([sv.take([2, 0]), q])
    assert taken.indptr.tolist() == [0, 1, 3, 5] and taken.indices.tolist() == [3, 1, 5, 1, 3]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{1: 1.0}, ([2, 2], [1.0, 1.0])], "input at position 1 has index 2 twice"),
        ([([-1], [1.0])], "input at position 0 has a negative index"),
        ([{}, ([9], [1.0])], "input at position 1 has index 9, outside the space of size 8"),
        ([([1, 2], [1.0, float("nan")])], "input at position 0 has a NaN"),
        ([([1.5], [1.0])], "input at position 0: sparse indices must be integers"),
        ([([1, 2], [1.0])], "input at position 0: 2 indices but 1 values"),
        (["abc"], "input at position 0: a sparse row is"),
    ],
)
def test_bad_sparse_rows_name_the_input(rows, message):
    with pytest.raises((ValueError, TypeError), match=message):
        SparseVectors.from_rows(rows, dim=8)


def test_sparse_csr_is_checked_not_repaired():
    with pytest.raises(ValueError, match="must be sorted within a row"):
        SparseVectors(np.array([0, 2]), np.array([3, 1]), np.array([1.0, 1.0]), 8)
    with pytest.raises(DimensionMismatchError):
        SparseVectors.concat([SparseVectors.empty(8), SparseVectors.empty(9)])


class TokenEncoder(BaseEncoder):
    """Three 4-wide vectors per text (a stand-in for late-interaction token vectors)."""

    output_kind = "multi"
    dim = 4

    def _encode_batch(self, inputs, role):
        return MultiVectors.from_list([np.full((3, 4), len(t), dtype=np.float32) for t in inputs])


def test_a_multi_vector_encoder_returns_multivectors_in_batches_and_when_empty():
    enc = TokenEncoder()
    out = enc.encode(["a", "bb", "ccc"], batch_size=2)
    assert isinstance(out, MultiVectors) and out.lengths.tolist() == [3, 3, 3]
    assert out[2][0, 0] == 3.0
    empty = enc.encode([])
    assert isinstance(empty, MultiVectors) and len(empty) == 0 and empty.dim == 4


def test_the_chain_checks_kinds_with_located_messages():
    reg = get_registry()
    matryoshka = reg.get("compressor", "matryoshka").create({"dim": 2})
    exact = reg.get("index", "exact").create({})
    check = check_chain(TokenEncoder(), None, [matryoshka], exact)
    messages = [(i.path, i.message) for i in check.issues]
    assert ("compressors[0]", "compressors[0] (matryoshka) takes dense vectors but encoder (TokenEncoder) "
            "emits multi-vectors") in messages, messages
    class DenseOnly(BaseIndex):  # the default: an index that stores dense vectors only
        pass

    check = check_chain(TokenEncoder(), None, [], DenseOnly())
    assert [i.message for i in check.issues] == [
        "index (DenseOnly) stores dense vectors but encoder (TokenEncoder) emits multi-vectors"
    ]
    # exact stores multi-vectors too (MaxSim)
    check = check_chain(TokenEncoder(), None, [], reg.get("index", "exact").create({}))
    assert check.issues == [] and check.kind == "multi"

    class Pooling(BaseCompressor):  # multi -> dense, e.g. MUVERA
        input_kind = "multi"
        output_kind = "dense"

    check = check_chain(TokenEncoder(), None, [Pooling()], reg.get("index", "exact").create({}))
    assert check.issues == [] and check.kind == "dense" and check.dim == 4


def test_an_index_refuses_a_kind_it_does_not_store_and_writes_nothing():
    index = get_registry().get("index", "exact").create({})
    index.upsert([1], np.ones((1, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="holds dense vectors; vectors are multi-vectors"):
        index.upsert([2], MultiVectors.from_list([np.ones((2, 4))]))
    with pytest.raises(TypeError, match="holds dense vectors; queries are sparse vectors"):
        index.search(SparseVectors.from_rows([{1: 1.0}], dim=4), k=1)
    assert index.count() == 1
    assert BaseIndex.accepts == frozenset({"dense"})
