"""Loaders for the labelled files ``embedspec eval`` reads besides BEIR folders.

- Sentence pairs: a TSV or CSV file with a header naming ``sentence1``, ``sentence2`` and ``score``.
- Classification: a folder with ``train.tsv`` and ``test.tsv`` (or ``.csv``) whose header names a text
  column (``text`` or ``sentence``) and a label column (``label`` or ``category``); the SIB-200
  layout ``index_id  category  text`` reads as it is.

Every problem raises ``DatasetError`` naming the file and line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError

TEXT_COLUMNS = ("text", "sentence")
LABEL_COLUMNS = ("label", "category")


def _delimiter(path: Path, header_line: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    if path.suffix.lower() == ".csv":
        return ","
    return "\t" if "\t" in header_line else ","


def read_table(path: str | Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header (lower-cased) and ``(line number, cells)`` rows of a TSV/CSV file; blank lines skipped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    with path.open(encoding="utf-8", newline="") as fh:
        first = fh.readline()
        if not first.strip():
            raise DatasetError(f"{path}:1: expected a header line naming the columns")
        delim = _delimiter(path, first)
        fh.seek(0)
        quoting = csv.QUOTE_NONE if delim == "\t" else csv.QUOTE_MINIMAL
        reader = csv.reader(fh, delimiter=delim, quoting=quoting)
        header = [h.strip().lower() for h in next(reader)]
        rows = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise DatasetError(f"{path}:{reader.line_num}: expected {len(header)} columns "
                                     f"({', '.join(header)}), got {len(cells)}")
            rows.append((reader.line_num, cells))
    if not rows:
        raise DatasetError(f"{path}: no rows after the header")
    return header, rows


def _column(header: list[str], names: tuple[str, ...], path: Path, what: str) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    raise DatasetError(f"{path}: no {what} column: expected one of {', '.join(names)}; "
                         f"the header has {', '.join(header)}")


@dataclass
class SentencePairs:
    """Sentence pairs with gold similarity scores."""

    sentences1: list[str]
    sentences2: list[str]
    scores: np.ndarray  # (n,) float64


def load_pairs(path: str | Path) -> SentencePairs:
    path = Path(path)
    header, rows = read_table(path)
    c1 = _column(header, ("sentence1",), path, "first-sentence")
    c2 = _column(header, ("sentence2",), path, "second-sentence")
    cs = _column(header, ("score",), path, "score")
    s1, s2, scores = [], [], []
    for lineno, cells in rows:
        try:
            scores.append(float(cells[cs]))
        except ValueError:
            raise DatasetError(f"{path}:{lineno}: score {cells[cs]!r} is not a number") from None
        for col in (c1, c2):
            if not cells[col].strip():
                raise DatasetError(f"{path}:{lineno}: column {header[col]!r} is empty")
        s1.append(cells[c1])
        s2.append(cells[c2])
    if len(scores) < 2:
        raise DatasetError(f"{path}: need at least 2 pairs to compute a correlation")
    return SentencePairs(s1, s2, np.asarray(scores, dtype=np.float64))


@dataclass
class LabelledTexts:
    texts: list[str]
    labels: list[str]


def load_labelled(path: str | Path) -> LabelledTexts:
    """Texts and labels of one classification split file."""
    path = Path(path)
    header, rows = read_table(path)
    ct = _column(header, TEXT_COLUMNS, path, "text")
    cl = _column(header, LABEL_COLUMNS, path, "label")
    texts, labels = [], []
    for lineno, cells in rows:
        if not cells[ct].strip():
            raise DatasetError(f"{path}:{lineno}: column {header[ct]!r} is empty")
        if not cells[cl].strip():
            raise DatasetError(f"{path}:{lineno}: column {header[cl]!r} (the label) is empty")
        texts.append(cells[ct])
        labels.append(cells[cl].strip())
    return LabelledTexts(texts, labels)


def _split_file(folder: Path, split: str) -> Path:
    for suffix in (".tsv", ".csv"):
        if (folder / f"{split}{suffix}").is_file():
            return folder / f"{split}{suffix}"
    raise DatasetError(f"classification folder {folder}: missing {split}.tsv (or {split}.csv)")


def load_classification(folder: str | Path) -> tuple[LabelledTexts, LabelledTexts]:
    """``(train, test)`` of a classification folder; test labels unseen in training raise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"classification folder {folder} does not exist")
    train_path, test_path = _split_file(folder, "train"), _split_file(folder, "test")
    train, test = load_labelled(train_path), load_labelled(test_path)
    if len(set(train.labels)) < 2:
        raise DatasetError(f"{train_path}: need at least 2 labels to train a classifier")
    unseen = sorted(set(test.labels) - set(train.labels))
    if unseen:
        raise DatasetError(f"{test_path}: labels never seen in {train_path.name}: {', '.join(unseen[:5])}")
    return train, test
