"""``bm25``: Okapi BM25 as sparse vectors; the index supplies the IDF over the documents it holds.

A document ``d`` becomes, for each term ``t`` it contains (``tf`` times, ``|d|`` terms after analysis),
the saturated, length-normalized term frequency

    w(t, d) = tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))

and a query becomes its terms with their counts (``role="query"``: no weighting). An index that
multiplies each query value by the term's inverse document frequency over the documents it holds,
Lucene's ``idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))`` (the ``exact`` index; Qdrant's sparse
vectors with the IDF modifier), scores ``sum_t count(t, q) * idf(t) * w(t, d)``: BM25, with IDF
always current after upserts and deletes.

Term ids: the first 4 bytes (little-endian) of BLAKE2b of the UTF-8 term, so ``dim = 2**32`` and ids
are stable across processes, machines and corpora without a vocabulary (Qdrant's sparse indices are
32-bit too). Two terms share an id with probability ~ 2**-32 per pair.

``avgdl`` (the average document length in analysed terms) is a parameter: set it to the corpus's
value, or call ``fit(texts)`` to measure it on a sample of documents (it is then written back by
``to_spec()`` like any parameter). The default, 256, is Qdrant/fastembed's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import numpy as np
from embedspec.base import BaseEncoder
from embedspec.protocols import Role
from embedspec.registry import ComponentConfig
from embedspec.representations import SparseVectors
from pydantic import Field, ValidationInfo, field_validator

from .analyzer import LANGUAGES, Analyzer, default_stopwords, language_name

#: Size of the term-id space: 32-bit hashes.
TERM_SPACE = 2**32
_CACHE_LIMIT = 1_000_000


class Bm25EncoderConfig(ComponentConfig):
    """Spec block of the ``bm25`` encoder."""

    language: str = Field("english", description="Snowball language, by name or ISO 639-1 code (en, de, fr...)")
    stopwords: Literal["default", "none"] | list[str] = Field(
        "default", validate_default=True, description="'default' (the language's list), 'none', or a list of words"
    )
    stemmer: bool = Field(True, description="stem terms with the language's Snowball stemmer")
    k1: float = Field(1.2, ge=0.0, le=100.0, description="term-frequency saturation")
    b: float = Field(0.75, ge=0.0, le=1.0, description="document length normalization (0 = none, 1 = full)")
    avgdl: float = Field(256.0, gt=0.0, le=1e9, description="average document length in terms (fit() measures it)")
    batch_size: int = Field(256, ge=1, le=1_000_000)

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return language_name(value)

    @field_validator("stopwords")
    @classmethod
    def _has_default_list(cls, value: Any, info: ValidationInfo) -> Any:
        language = info.data.get("language")
        if value == "default" and language is not None and LANGUAGES[language][1] is None:
            raise ValueError(
                f"there is no default stop-word list for {language}; set stopwords: none or give the list of words"
            )
        return value


def term_id(term: str) -> int:
    """The id of an analysed term: BLAKE2b's first 4 bytes, little-endian, in ``0..2**32-1``."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


class Bm25Encoder(BaseEncoder):
    """Text -> ``SparseVectors`` (dim ``2**32``): BM25 document weights, or query term counts."""

    Config = Bm25EncoderConfig
    modalities = frozenset({"text"})
    output_kind: ClassVar[str] = "sparse"
    #: The index weighs query terms by IDF over the documents it holds (Qdrant: Modifier.IDF).
    sparse_modifier: ClassVar[str] = "idf"
    dim = TERM_SPACE

    def _init_runtime(self) -> None:
        self._analyzer: Analyzer | None = None
        self._ids: dict[str, int] = {}

    def _warm_up(self) -> None:
        if self.stopwords == "default":
            words: Sequence[str] = sorted(default_stopwords(self.language) or ())
        elif self.stopwords == "none":
            words = ()
        else:
            words = self.stopwords
        self._analyzer = Analyzer(self.language, words, stem=self.stemmer)

    @property
    def analyzer(self) -> Analyzer:
        """The analyzer (language, stop words, stemmer) this encoder applies."""
        self.warm_up()
        return self._analyzer  # type: ignore[return-value]

    def fit(self, texts: Sequence[str]) -> Bm25Encoder:
        """Set ``avgdl`` to the mean analysed length of ``texts`` (documents); returns ``self``."""
        texts = list(texts)
        self.validate_inputs(texts)
        if not texts:
            raise ValueError("fit() needs at least one document to measure the average length")
        lengths = [len(terms) for terms in self.analyzer.analyze_all(texts)]
        self.avgdl = float(np.mean(lengths)) if any(lengths) else self.avgdl
        return self

    def _term_ids(self, terms: list[str]) -> np.ndarray:
        cache = self._ids
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        for term in set(terms).difference(cache):  # hash each new term once
            cache[term] = term_id(term)
        return np.fromiter(map(cache.__getitem__, terms), dtype=np.int64, count=len(terms))

    def _encode_batch(self, inputs: Sequence[Any], role: Role) -> SparseVectors:
        terms = self.analyzer.analyze_all(inputs)
        lengths = np.fromiter((len(t) for t in terms), dtype=np.int64, count=len(terms))
        if role == "document" and not lengths.all():
            position = int(np.flatnonzero(lengths == 0)[0])
            raise ValueError(
                f"document at position {position} has no terms after analysis ({self.language}: empty, "
                f"or only punctuation and stop words): {str(inputs[position])[:60]!r}"
            )
        rows = np.repeat(np.arange(len(terms), dtype=np.int64), lengths)
        key = (rows << 32) | self._term_ids([t for doc in terms for t in doc])
        unique, counts = np.unique(key, return_counts=True)  # sorted by row, then term id
        row_of = unique >> 32
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of, minlength=len(terms)), out=indptr[1:])
        tf = counts.astype(np.float64)
        if role == "document":
            norm = self.k1 * (1.0 - self.b + self.b * lengths[row_of] / self.avgdl)
            values = tf * (self.k1 + 1.0) / (tf + norm)
        else:
            values = tf
        return SparseVectors(indptr, unique & 0xFFFFFFFF, values.astype(np.float32), dim=TERM_SPACE)
