"""Input records ``{"text": ..., "lang": ...}`` and the label space (multi-class or multi-label)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Label = str | int


def check_records(records: Sequence[Any], *, owner: str = "gfun") -> None:
    """Raise ``TypeError``/``ValueError`` naming the position and field of the first bad record."""
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise TypeError(
                f"{owner} encodes records {{'text': ..., 'lang': ...}}: input at position {i} is "
                f"{type(rec).__name__}"
            )
        for field in ("text", "lang"):
            if field not in rec:
                raise ValueError(f"{owner}: record at position {i} has no {field!r} field")
            if not isinstance(rec[field], str):
                raise TypeError(
                    f"{owner}: record at position {i}, field {field!r} is {type(rec[field]).__name__}, not str"
                )
        if not rec["lang"]:
            raise ValueError(f"{owner}: record at position {i} has an empty 'lang'")


def group_by_language(records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """``{lang: positions (int64, ascending)}`` in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        groups.setdefault(rec["lang"], []).append(i)
    return {lang: np.asarray(pos, dtype=np.int64) for lang, pos in groups.items()}


def group_ids(groups: Sequence[Any] | None, n_records: int) -> np.ndarray | None:
    """``(n,) int64`` codes of per-record group ids (str or int), or None; one id per record."""
    if groups is None:
        return None
    if isinstance(groups, (str, bytes)) or len(groups) != n_records:
        got = "a string" if isinstance(groups, (str, bytes)) else f"{len(groups)} groups"
        raise ValueError(f"gfun.fit: got {got} for {n_records} records; give one group id per record")
    codes: dict[Any, int] = {}
    out = np.empty(n_records, dtype=np.int64)
    for i, g in enumerate(groups):
        if isinstance(g, bool) or not isinstance(g, (str, int, np.integer)):
            raise TypeError(f"gfun.fit: group at position {i} is {g!r}; group ids are str or int")
        out[i] = codes.setdefault(int(g) if isinstance(g, np.integer) else g, len(codes))
    return out


@dataclass(frozen=True)
class LabelSpace:
    """The classes seen in training and whether documents carry several labels."""

    classes: tuple[Label, ...]
    multilabel: bool

    @classmethod
    def from_labels(cls, labels: Sequence[Any], n_records: int) -> LabelSpace:
        if isinstance(labels, (str, bytes)) or len(labels) != n_records:
            got = "a string" if isinstance(labels, (str, bytes)) else f"{len(labels)} labels"
            raise ValueError(f"gfun.fit: got {got} for {n_records} records; give one label (or list) per record")
        if n_records == 0:
            raise ValueError("gfun.fit: no training records")
        multilabel = isinstance(labels[0], (list, tuple, set, frozenset))
        seen: set[Any] = set()
        for i, lab in enumerate(labels):
            is_seq = isinstance(lab, (list, tuple, set, frozenset))
            if is_seq != multilabel:
                kind = "a list of labels" if multilabel else "a single label"
                raise ValueError(f"gfun.fit: label at position {i} is not {kind} like the first one")
            for item in lab if is_seq else [lab]:
                if isinstance(item, bool) or not isinstance(item, (str, int, np.integer)):
                    raise TypeError(f"gfun.fit: label at position {i} is {item!r}; labels are str or int")
                seen.add(int(item) if isinstance(item, np.integer) else item)
        if len({type(c) for c in seen}) > 1:
            raise TypeError("gfun.fit: labels mix str and int; use one type")
        classes = tuple(sorted(seen))
        if len(classes) < 2:
            raise ValueError(f"gfun.fit: need at least 2 classes, got {list(classes)}")
        return cls(classes, multilabel)

    def indicator(self, labels: Sequence[Any], *, where: str = "") -> np.ndarray:
        """``(n, c) float64`` 0/1 matrix (one 1 per row when multi-class). ``where`` (e.g. "validation")
        checks each label against the training classes and names that set in the error."""
        index = {c: j for j, c in enumerate(self.classes)}
        Y = np.zeros((len(labels), len(self.classes)), dtype=np.float64)
        for i, lab in enumerate(labels):
            if where and isinstance(lab, (list, tuple, set, frozenset)) != self.multilabel:
                kind = "a list of labels" if self.multilabel else "a single label"
                raise ValueError(f"gfun.fit: {where} label at position {i} is not {kind} like the training labels")
            for item in lab if self.multilabel else [lab]:
                key = int(item) if isinstance(item, np.integer) else item
                if key not in index:
                    raise ValueError(
                        f"gfun.fit: {where or 'training'} label at position {i}, {item!r}, is not among the "
                        f"training classes {list(self.classes)}"
                    )
                Y[i, index[key]] = 1.0
        return Y

    def decode(self, P: np.ndarray, threshold: float) -> list[Any]:
        """Labels from posteriors ``(n, c)``: argmax, or every class with ``P >= threshold``."""
        if not self.multilabel:
            return [self.classes[j] for j in np.argmax(P, axis=1)]
        return [[self.classes[j] for j in np.flatnonzero(row >= threshold)] for row in P]
