"""What an encoder can emit besides one dense vector per input, as flat, validated arrays.

Three output kinds (``OutputKind``):

- ``dense``: one vector per input, an ``(n, dim) float32`` array (``embedspec.vectors.as_matrix``).
- ``multi``: a set of vectors per input (late interaction, ColBERT-style token vectors), held as
  ``MultiVectors``: every input's rows stacked in one ``(total_rows, dim) float32`` array plus
  ``offsets (n + 1,) int64`` (input ``i`` owns rows ``offsets[i]:offsets[i + 1]``).
- ``sparse``: a few weighted dimensions of a huge space per input (BM25 terms, SPLADE), held as
  ``SparseVectors`` in CSR form: ``indptr (n + 1,) int64``, ``indices (nnz,) int64`` sorted and
  unique within a row, ``values (nnz,) float32``, and the space's size ``dim``.

Both containers are immutable and checked when made; an error names the input at fault (its
position in the call). They never hold Python lists of arrays, so every consumer can work on the
flat arrays with vectorised numpy (``np.maximum.reduceat`` over ``offsets``, a CSR product).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from .errors import DimensionMismatchError

OutputKind = Literal["dense", "multi", "sparse"]
OUTPUT_KINDS: tuple[str, ...] = get_args(OutputKind)
#: How messages name each kind ("... takes dense vectors but the encoder emits multi-vectors").
KIND_NOUNS: dict[str, str] = {"dense": "dense vectors", "multi": "multi-vectors", "sparse": "sparse vectors"}


def check_kind(kind: Any, *, what: str = "output kind") -> str:
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"{what} must be one of {', '.join(OUTPUT_KINDS)}; got {kind!r}")
    return str(kind)


def kind_of(vectors: Any) -> str:
    """The output kind of a batch of vectors as the components exchange them."""
    if isinstance(vectors, MultiVectors):
        return "multi"
    if isinstance(vectors, SparseVectors):
        return "sparse"
    return "dense"


def _offsets_from_lengths(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _frozen(arr: np.ndarray) -> np.ndarray:
    """A read-only, C-contiguous view (the caller's own array keeps its flags)."""
    view = np.ascontiguousarray(arr).view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class MultiVectors:
    """A set of ``dim``-wide vectors per input: ``data (total_rows, dim) float32``, ``offsets (n + 1,)``.

    Every input has at least one vector (an empty set cannot be searched or scored) and every value
    is finite. Build with ``MultiVectors(data, offsets)`` or ``MultiVectors.from_list(arrays)``.
    """

    data: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        data = np.asarray(self.data, dtype=np.float32)
        offsets = np.asarray(self.offsets)
        if data.ndim != 2:
            raise ValueError(f"multi-vector data must be a 2-D array (rows, dim); got shape {data.shape}")
        if offsets.ndim != 1 or offsets.size == 0 or not np.issubdtype(offsets.dtype, np.integer):
            raise ValueError("multi-vector offsets must be a 1-D integer array of n + 1 positions")
        offsets = offsets.astype(np.int64, copy=False)
        if offsets[0] != 0 or offsets[-1] != data.shape[0]:
            raise ValueError(
                f"multi-vector offsets must run from 0 to the number of rows ({data.shape[0]}); "
                f"got {int(offsets[0])}..{int(offsets[-1])}"
            )
        lengths = np.diff(offsets)
        if (lengths < 0).any():
            raise ValueError(f"multi-vector offsets decrease at input {int(np.argmax(lengths < 0))}")
        if (lengths == 0).any():
            raise ValueError(
                f"input at position {int(np.argmax(lengths == 0))} has no vectors (an empty token set, "
                "e.g. an empty text): every input needs at least one"
            )
        if data.size and not np.isfinite(data).all():
            row = int(np.argwhere(~np.isfinite(data))[0][0])
            position = int(np.searchsorted(offsets, row, side="right") - 1)
            raise ValueError(f"input at position {position} has NaN or infinite values (its vector {row - offsets[position]})")
        object.__setattr__(self, "data", _frozen(data))
        object.__setattr__(self, "offsets", _frozen(offsets))

    @classmethod
    def from_list(cls, arrays: Iterable[Any], *, dim: int | None = None) -> MultiVectors:
        """One ``(rows_i, dim)`` array per input; a wrong width or a non-2-D array names its position."""
        parts: list[np.ndarray] = []
        for i, item in enumerate(arrays):
            arr = np.asarray(item, dtype=np.float32)
            if arr.ndim != 2:
                raise ValueError(f"input at position {i}: a multi-vector must be a 2-D array (rows, dim); "
                                 f"got shape {arr.shape}")
            if dim is None:
                dim = arr.shape[1]
            elif arr.shape[1] != dim:
                raise DimensionMismatchError(
                    f"input at position {i} has vectors of dimension {arr.shape[1]}, expected {dim}"
                )
            parts.append(arr)
        if not parts:
            return cls.empty(dim or 0)
        lengths = np.array([p.shape[0] for p in parts], dtype=np.int64)
        return cls(np.concatenate(parts, axis=0), _offsets_from_lengths(lengths))

    @classmethod
    def empty(cls, dim: int) -> MultiVectors:
        return cls(np.zeros((0, dim), dtype=np.float32), np.zeros(1, dtype=np.int64))

    @classmethod
    def concat(cls, parts: Sequence[MultiVectors]) -> MultiVectors:
        if not parts:
            raise ValueError("nothing to concatenate")
        dims = {p.dim for p in parts}
        if len(dims) > 1:
            raise DimensionMismatchError(f"multi-vectors of different dimensions: {sorted(dims)}")
        lengths = np.concatenate([p.lengths for p in parts])
        return cls(np.concatenate([p.data for p in parts], axis=0), _offsets_from_lengths(lengths))

    @property
    def dim(self) -> int:
        return int(self.data.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """``(n,) int64``: vectors per input."""
        return np.diff(self.offsets)

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes + self.offsets.nbytes)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"input {i} out of range for {n} inputs")
        i %= n
        return self.data[self.offsets[i] : self.offsets[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def take(self, positions: Sequence[int] | np.ndarray) -> MultiVectors:
        """The inputs at ``positions``, in that order."""
        pos = np.asarray(positions, dtype=np.int64)
        if pos.size == 0:
            return MultiVectors.empty(self.dim)
        starts, ends = self.offsets[pos], self.offsets[pos + 1]
        lengths = ends - starts
        rows = np.repeat(starts - _offsets_from_lengths(lengths)[:-1], lengths) + np.arange(lengths.sum())
        return MultiVectors(self.data[rows], _offsets_from_lengths(lengths))

    def __repr__(self) -> str:
        return f"MultiVectors(n={len(self)}, dim={self.dim}, rows={self.data.shape[0]})"


SparseRow = tuple[Sequence[int] | np.ndarray, Sequence[float] | np.ndarray] | Mapping[int, float]


@dataclass(frozen=True, eq=False)
class SparseVectors:
    """CSR rows in a ``dim``-sized space: ``indptr (n + 1,)``, ``indices``/``values (nnz,)``.

    Within a row, indices are sorted, unique and in ``0 <= index < dim``; values are finite. Zero
    entries may be stored. Build with ``SparseVectors(indptr, indices, values, dim)`` (checked, never
    repaired) or ``SparseVectors.from_rows(rows, dim)`` (sorts each row; duplicates are an error).
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    dim: int

    def __post_init__(self) -> None:
        indptr = np.asarray(self.indptr)
        indices = np.asarray(self.indices)
        values = np.asarray(self.values, dtype=np.float32)
        dim = self.dim
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"a sparse space needs a positive integer size, got {dim!r}")
        if indptr.ndim != 1 or indptr.size == 0 or not np.issubdtype(indptr.dtype, np.integer):
            raise ValueError("sparse indptr must be a 1-D integer array of n + 1 positions")
        if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
            raise ValueError("sparse indices must be a 1-D integer array")
        if values.shape != indices.shape:
            raise ValueError(f"sparse indices and values differ in length ({indices.size} vs {values.size})")
        indptr = indptr.astype(np.int64, copy=False)
        indices = indices.astype(np.int64, copy=False)
        if indptr[0] != 0 or indptr[-1] != indices.size or (np.diff(indptr) < 0).any():
            raise ValueError(f"sparse indptr must rise from 0 to the number of entries ({indices.size})")
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))

        def row_of(entry: int) -> int:
            return int(rows[entry])

        if indices.size:
            if (indices < 0).any():
                e = int(np.argmax(indices < 0))
                raise ValueError(f"input at position {row_of(e)} has a negative index ({int(indices[e])})")
            if (indices >= dim).any():
                e = int(np.argmax(indices >= dim))
                raise ValueError(f"input at position {row_of(e)} has index {int(indices[e])}, outside the space "
                                 f"of size {dim}")
            same_row = rows[1:] == rows[:-1]
            steps = np.diff(indices)
            if (same_row & (steps == 0)).any():
                e = int(np.argmax(same_row & (steps == 0)))
                raise ValueError(f"input at position {row_of(e)} has index {int(indices[e])} twice")
            if (same_row & (steps < 0)).any():
                e = int(np.argmax(same_row & (steps < 0)))
                raise ValueError(f"input at position {row_of(e)}: indices must be sorted within a row")
            if not np.isfinite(values).all():
                e = int(np.argmax(~np.isfinite(values)))
                raise ValueError(f"input at position {row_of(e)} has a NaN or infinite value")
        for name, arr in (("indptr", indptr), ("indices", indices), ("values", values)):
            object.__setattr__(self, name, _frozen(arr))
        object.__setattr__(self, "dim", int(dim))

    @classmethod
    def from_rows(cls, rows: Iterable[SparseRow], dim: int) -> SparseVectors:
        """Rows as ``(indices, values)`` pairs or ``{index: value}`` mappings; each row is sorted."""
        all_idx: list[np.ndarray] = []
        all_val: list[np.ndarray] = []
        lengths: list[int] = []
        for i, row in enumerate(rows):
            if isinstance(row, Mapping):
                idx, val = list(row.keys()), list(row.values())
            elif isinstance(row, (tuple, list)) and len(row) == 2:
                idx, val = row
            else:
                raise TypeError(f"input at position {i}: a sparse row is (indices, values) or {{index: value}}, "
                                f"not {type(row).__name__}")
            try:
                idx_arr = np.asarray(idx, dtype=np.float64).ravel()
                val_arr = np.asarray(val, dtype=np.float32).ravel()
            except (TypeError, ValueError) as exc:
                raise ValueError(f"input at position {i}: sparse indices and values must be numbers ({exc})") from None
            if idx_arr.size != val_arr.size:
                raise ValueError(f"input at position {i}: {idx_arr.size} indices but {val_arr.size} values")
            if idx_arr.size and (idx_arr != np.floor(idx_arr)).any():
                raise ValueError(f"input at position {i}: sparse indices must be integers")
            order = np.argsort(idx_arr, kind="stable")
            all_idx.append(idx_arr[order].astype(np.int64))
            all_val.append(val_arr[order])
            lengths.append(idx_arr.size)
        indptr = _offsets_from_lengths(np.asarray(lengths, dtype=np.int64))
        indices = np.concatenate(all_idx) if all_idx else np.zeros(0, dtype=np.int64)
        values = np.concatenate(all_val) if all_val else np.zeros(0, dtype=np.float32)
        return cls(indptr, indices, values, dim)

    @classmethod
    def empty(cls, dim: int) -> SparseVectors:
        return cls(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), dim)

    @classmethod
    def concat(cls, parts: Sequence[SparseVectors]) -> SparseVectors:
        if not parts:
            raise ValueError("nothing to concatenate")
        dims = {p.dim for p in parts}
        if len(dims) > 1:
            raise DimensionMismatchError(f"sparse vectors of different spaces: sizes {sorted(dims)}")
        lengths = np.concatenate([np.diff(p.indptr) for p in parts])
        return cls(
            _offsets_from_lengths(lengths),
            np.concatenate([p.indices for p in parts]),
            np.concatenate([p.values for p in parts]),
            parts[0].dim,
        )

    @property
    def nnz(self) -> np.ndarray:
        """``(n,) int64``: stored entries per input."""
        return np.diff(self.indptr)

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes + self.values.nbytes)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"input {i} out of range for {n} inputs")
        i %= n
        lo, hi = self.indptr[i], self.indptr[i + 1]
        return self.indices[lo:hi], self.values[lo:hi]

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return (self[i] for i in range(len(self)))

    def take(self, positions: Sequence[int] | np.ndarray) -> SparseVectors:
        pos = np.asarray(positions, dtype=np.int64)
        if pos.size == 0:
            return SparseVectors.empty(self.dim)
        starts, ends = self.indptr[pos], self.indptr[pos + 1]
        lengths = ends - starts
        entries = np.repeat(starts - _offsets_from_lengths(lengths)[:-1], lengths) + np.arange(lengths.sum())
        return SparseVectors(_offsets_from_lengths(lengths), self.indices[entries], self.values[entries], self.dim)

    def to_scipy(self) -> Any:
        """A ``scipy.sparse.csr_array`` of shape ``(n, dim)`` (scipy imported on first use)."""
        from scipy import sparse

        return sparse.csr_array((self.values, self.indices, self.indptr), shape=(len(self), self.dim))

    def __repr__(self) -> str:
        return f"SparseVectors(n={len(self)}, dim={self.dim}, nnz={self.indices.size})"
