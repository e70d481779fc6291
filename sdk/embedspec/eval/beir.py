"""Load and validate a BEIR-format retrieval dataset before anything is encoded.

Layout (https://github.com/beir-cellar/beir): ``corpus.jsonl`` (``_id``, ``title``, ``text``),
``queries.jsonl`` (``_id``, ``text``), ``qrels/<split>.tsv`` (``query-id  corpus-id  score``, one
header line). Problems are reported with ``file:line``: a missing file, a malformed JSON line, a
missing field, a duplicate id or a non-integer grade raise ``DatasetError``; judgments naming
unknown query or document ids are dropped with a ``BeirWarning`` that counts them and shows the
first few; a judged query with empty text raises.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DatasetError

MAX_SHOWN = 5


class BeirWarning(UserWarning):
    """A problem in a BEIR folder that was worked around (judgments dropped, empty documents)."""


@dataclass
class BeirDataset:
    """A validated BEIR split: only the judged queries are kept, in qrels order."""

    path: Path
    split: str
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}
    warnings: list[str] = field(default_factory=list)

    def documents(self) -> tuple[list[str], list[str]]:
        """Doc ids and texts ``(title + " " + text).strip()``, as BEIR's dense models encode them."""
        ids = list(self.corpus)
        return ids, [f"{title} {text}".strip() for title, text in self.corpus.values()]

    def query_items(self) -> tuple[list[str], list[str]]:
        return list(self.queries), list(self.queries.values())

    def limit_queries(self, n: int) -> BeirDataset:
        """A copy keeping the first ``n`` judged queries (the corpus is unchanged)."""
        if n < 1:
            raise ValueError(f"limit_queries must be >= 1, got {n}")
        keep = list(self.queries)[:n]
        return BeirDataset(
            self.path, self.split, self.corpus, {q: self.queries[q] for q in keep},
            {q: self.qrels[q] for q in keep}, list(self.warnings),
        )

    def summary(self) -> str:
        judgments = sum(len(j) for j in self.qrels.values())
        return (f"{self.path.name} [{self.split}]: {len(self.corpus)} documents, "
                f"{len(self.queries)} queries, {judgments} judgments")


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"BEIR folder {path.parent}: missing {what} file {path}")
    return path


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def _field(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    if key not in obj:
        if required:
            raise DatasetError(f"{where}: missing field {key!r}")
        return ""
    value = obj[key]
    if value is None and not required:
        return ""
    if key == "_id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise DatasetError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value


def _read_corpus(path: Path) -> tuple[dict[str, tuple[str, str]], list[str]]:
    corpus: dict[str, tuple[str, str]] = {}
    first_line: dict[str, int] = {}
    empty: list[str] = []
    for lineno, obj in _jsonl(path):
        where = f"{path}:{lineno}"
        doc_id = _field(obj, "_id", where)
        if doc_id in corpus:
            raise DatasetError(f"{where}: duplicate document id {doc_id!r} (first at line {first_line[doc_id]})")
        title, text = _field(obj, "title", where, required=False), _field(obj, "text", where)
        if not (title.strip() or text.strip()):
            empty.append(f"{path.name}:{lineno} ({doc_id!r})")
        corpus[doc_id] = (title, text)
        first_line[doc_id] = lineno
    if not corpus:
        raise DatasetError(f"{path}: the corpus is empty")
    notes = []
    if empty:
        notes.append(f"{len(empty)} documents have no title and no text; they are indexed as empty "
                     f"strings: {', '.join(empty[:MAX_SHOWN])}{' ...' if len(empty) > MAX_SHOWN else ''}")
    return corpus, notes


def _read_queries(path: Path) -> dict[str, tuple[int, str]]:
    queries: dict[str, tuple[int, str]] = {}
    for lineno, obj in _jsonl(path):
        where = f"{path}:{lineno}"
        qid = _field(obj, "_id", where)
        if qid in queries:
            raise DatasetError(f"{where}: duplicate query id {qid!r} (first at line {queries[qid][0]})")
        queries[qid] = (lineno, _field(obj, "text", where))
    return queries


def _read_qrels(path: Path) -> list[tuple[int, str, str, int]]:
    rows: list[tuple[int, str, str, int]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) == 4:  # TREC layout: query-id  iteration  corpus-id  score
                cols = [cols[0], cols[2], cols[3]]
            if len(cols) != 3:
                raise DatasetError(f"{path}:{lineno}: expected 3 tab-separated columns "
                                     f"(query-id, corpus-id, score), got {len(cols)}")
            try:
                grade = int(cols[2])
            except ValueError:
                if lineno == 1 and not rows:  # the header line
                    continue
                raise DatasetError(f"{path}:{lineno}: score {cols[2]!r} is not an integer") from None
            rows.append((lineno, cols[0].strip(), cols[1].strip(), grade))
    if not rows:
        raise DatasetError(f"{path}: no relevance judgments")
    return rows


def _unknown_note(kind: str, items: list[str], path: Path) -> str:
    shown = ", ".join(items[:MAX_SHOWN]) + (" ..." if len(items) > MAX_SHOWN else "")
    return f"{path.name}: dropped {len(items)} judgments naming unknown {kind} ids: {shown}"


def load_beir(path: str | Path, split: str = "test") -> BeirDataset:
    """Read and check a BEIR folder; raise or warn (``BeirWarning``) naming file and line."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"BEIR folder {root} does not exist")
    corpus_path = _require(root / "corpus.jsonl", "corpus")
    queries_path = _require(root / "queries.jsonl", "queries")
    qrels_path = root / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (root / "qrels").glob("*.tsv")) if (root / "qrels").is_dir() else []
        raise DatasetError(f"BEIR folder {root}: missing qrels file {qrels_path} for split {split!r}"
                             f" (splits found: {', '.join(found) or 'none'})")
    corpus, notes = _read_corpus(corpus_path)
    all_queries = _read_queries(queries_path)
    unknown_q: list[str] = []
    unknown_d: list[str] = []
    qrels: dict[str, dict[str, int]] = {}
    for lineno, qid, doc_id, grade in _read_qrels(qrels_path):
        if qid not in all_queries:
            unknown_q.append(f"line {lineno} ({qid!r})")
        elif doc_id not in corpus:
            unknown_d.append(f"line {lineno} ({doc_id!r})")
        else:
            qrels.setdefault(qid, {})[doc_id] = grade
    if unknown_q:
        notes.append(_unknown_note("query", unknown_q, qrels_path))
    if unknown_d:
        notes.append(_unknown_note("document", unknown_d, qrels_path))
    if not qrels:
        raise DatasetError(f"{qrels_path}: no judgment names a known query and document: " + "; ".join(notes))
    queries: dict[str, str] = {}
    for qid in qrels:
        lineno, text = all_queries[qid]
        if not text.strip():
            raise DatasetError(f"{queries_path}:{lineno}: query {qid!r} has empty text")
        queries[qid] = text
    for note in notes:
        warnings.warn(note, BeirWarning, stacklevel=2)
    return BeirDataset(root, split, corpus, queries, qrels, notes)
