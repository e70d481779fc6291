"""Word vectors of slices that live in one space: the container the analysis and the encoder read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from embedspec.base import l2_normalize

from .errors import UnknownSliceError, UnknownWordError

COMPASS = "compass"


@dataclass
class SliceVectors:
    """One slice's vocabulary (most frequent first), word counts and vectors ``(V, dim) float32``."""

    name: str
    words: list[str]
    counts: np.ndarray  # (V,) int64 occurrences in the slice
    vectors: np.ndarray  # (V, dim) float32
    index: dict[str, int] = field(init=False, repr=False)
    _unit: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if self.vectors.ndim != 2 or len(self.words) != self.vectors.shape[0] or len(self.words) != len(self.counts):
            raise ValueError(
                f"slice {self.name!r}: {len(self.words)} words, {len(self.counts)} counts and vectors of shape "
                f"{self.vectors.shape} do not match"
            )
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def unit(self) -> np.ndarray:
        """``(V, dim) float32`` L2-normalized vectors (cached)."""
        if self._unit is None:
            self._unit = l2_normalize(self.vectors)
        return self._unit

    def count(self, word: str) -> int:
        i = self.index.get(word)
        return 0 if i is None else int(self.counts[i])

    def position(self, word: str) -> int:
        """Row of ``word``; ``UnknownWordError`` naming the word and the slice when it is absent."""
        i = self.index.get(word)
        if i is None:
            raise UnknownWordError(
                f"word {word!r} is not in slice {self.name!r} ({len(self)} words, each seen at least "
                f"min_count times there)", word=word, slice=self.name,
            )
        return i

    def vector(self, word: str) -> np.ndarray:
        """``(dim,) float32`` vector of ``word`` in this slice."""
        return self.vectors[self.position(word)]


class SliceSpaces(Mapping[str, SliceVectors]):
    """Named slices whose vectors are comparable (CADE, or a baseline aligned after training)."""

    def __init__(self, slices: Mapping[str, SliceVectors], method: str) -> None:
        self._slices = dict(slices)
        self.method = method
        dims = {s.dim for s in self._slices.values()}
        if len(dims) > 1:
            raise ValueError(f"{method}: slices of different dimensions {sorted(dims)} cannot share a space")

    def __getitem__(self, name: str) -> SliceVectors:
        try:
            return self._slices[name]
        except KeyError:
            raise UnknownSliceError(
                f"unknown slice {name!r}; this {self.method} model has {', '.join(map(repr, self._slices))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._slices)

    def __len__(self) -> int:
        return len(self._slices)
