"""``hashing``: a deterministic, dependency-free feature-hashing text encoder (numpy only).

Each text is lower-cased (optional) and split into word tokens (``\\w+``). Two feature groups are
hashed into ``dim`` buckets with the signed-hashing trick (a hash bit picks +1 or -1, so collisions
cancel on average instead of piling up):

- word n-grams: unigrams up to ``word_ngrams``-grams of consecutive tokens;
- character n-grams of sizes ``ngram_range`` taken inside each token padded with spaces
  (scikit-learn's ``char_wb``), which give robustness to inflection and typos.

Each group's term frequencies are damped with ``1 + log(tf)`` (``sublinear_tf``), the group is
L2-normalized, the groups are summed and the result is L2-normalized again: both groups weigh the
same whatever their feature counts. Hashes are 64-bit (BLAKE2b for tokens, a polynomial rolling hash
for character n-grams, mixed with ``seed`` by the SplitMix64 finalizer), never Python's salted
``hash()``: the same text gives the same vector in every process. Different seeds give unrelated
spaces. The encoder is symmetric: ``role`` does not change the vector.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..base import BaseEncoder, l2_normalize
from ..config_rules import MAX_DIM, MAX_SEED
from ..protocols import Role
from ..registry import ComponentConfig

_TOKEN = re.compile(r"\w+")
_SEP = 0  # code point separating documents in the character stream
_SPACE = ord(" ")
_PRIME = np.uint64(0x100000001B3)  # FNV-64 prime, multiplier of the rolling hash
_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_CACHE_LIMIT = 500_000


class HashingEncoderConfig(ComponentConfig):
    """Spec block of the ``hashing`` encoder."""

    dim: int = Field(1024, ge=1, le=MAX_DIM, description="number of hash buckets (output dimension)")
    ngram_range: tuple[int, int] | None = Field(
        (3, 5), description="sizes of character n-grams inside words, inclusive; null disables them"
    )
    word_ngrams: int = Field(2, ge=0, le=16, description="longest word n-gram (2 = unigrams and bigrams; 0 disables)")
    lowercase: bool = True
    sublinear_tf: bool = Field(True, description="weigh a feature seen tf times by 1 + log(tf)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="hash seed; different seeds give unrelated spaces")
    batch_size: int = Field(256, ge=1, le=1_000_000)

    @field_validator("ngram_range")
    @classmethod
    def _check_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 1 <= value[0] <= value[1]:
            raise ValueError(f"ngram_range must be (min, max) with 1 <= min <= max, got {value}")
        return value

    @model_validator(mode="after")
    def _some_features(self) -> HashingEncoderConfig:
        if self.ngram_range is None and self.word_ngrams == 0:
            raise ValueError("enable word n-grams (word_ngrams >= 1) or character n-grams (ngram_range)")
        return self


def splitmix64(h: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer on ``uint64`` arrays (wrapping arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


class HashingEncoder(BaseEncoder):
    """Signed feature hashing of word and character n-grams; ``(n, dim) float32``, L2-normalized."""

    Config = HashingEncoderConfig
    modalities = frozenset({"text"})

    def _init_runtime(self) -> None:
        self._token_cache: dict[str, int] = {}

    def _tag(self, kind: int, size: int) -> np.uint64:
        """Per-(feature kind, n-gram size, seed) salt, so groups and seeds hash independently."""
        return np.uint64(((self.seed + 1) * _GOLDEN + kind * 0x1000193 + size * 0x5BD1E995) & _MASK)

    def _encode_batch(self, inputs: Sequence[Any], role: Role) -> np.ndarray:
        texts = [t.lower() if self.lowercase else t for t in inputs]
        tokens = [_TOKEN.findall(t) for t in texts]
        n = len(texts)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if self.word_ngrams:
            out += self._bucket(*self._word_features(tokens), n)
        if self.ngram_range is not None:
            out += self._bucket(*self._char_features(tokens), n)
        return l2_normalize(out)

    # ---- features: (document index per feature, 64-bit hash per feature) -------------------
    def _token_hashes(self, tokens: list[str]) -> np.ndarray:
        cache = self._token_cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        out = np.empty(len(tokens), dtype=np.uint64)
        for i, tok in enumerate(tokens):
            h = cache.get(tok)
            if h is None:
                h = int.from_bytes(hashlib.blake2b(tok.encode("utf-8"), digest_size=8).digest(), "little")
                cache[tok] = h
            out[i] = h
        return out

    def _word_features(self, tokens: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        flat = [t for doc in tokens for t in doc]
        docs = np.repeat(np.arange(len(tokens)), [len(doc) for doc in tokens])
        base = self._token_hashes(flat)
        doc_parts, hash_parts = [], []
        for size in range(1, self.word_ngrams + 1):
            if len(flat) < size:
                break
            count = len(flat) - size + 1
            h = base[:count].copy()
            for j in range(1, size):
                h = splitmix64(h * _PRIME + base[j : j + count])
            same_doc = docs[:count] == docs[size - 1 : size - 1 + count]
            doc_parts.append(docs[:count][same_doc])
            hash_parts.append(splitmix64(h[same_doc] ^ self._tag(1, size)))
        return _concat(doc_parts, np.int64), _concat(hash_parts, np.uint64)

    def _char_features(self, tokens: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        # One stream for the batch: " tok tok \x00 tok ... \x00"; n-grams may not cross a separator
        # and may hold a space only at their ends (char_wb: n-grams inside padded words).
        streams = [" " + " ".join(doc) + " \x00" if doc else "\x00" for doc in tokens]
        chars = np.frombuffer("".join(streams).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        docs = np.repeat(np.arange(len(tokens)), [len(s) for s in streams])
        length = len(chars)
        spaces = np.concatenate([[0], np.cumsum(chars == _SPACE)])
        seps = np.concatenate([[0], np.cumsum(chars == _SEP)])
        lo, hi = self.ngram_range or (1, 1)
        doc_parts, hash_parts = [], []
        for size in range(lo, hi + 1):
            count = length - size + 1
            if count <= 0:
                break
            start = np.arange(count)
            ok = seps[start + size] == seps[start]
            if size >= 3:
                ok &= spaces[start + size - 1] == spaces[start + 1]
            else:  # unigrams and bigrams: not made of spaces only
                ok &= (spaces[start + size] - spaces[start]) < size
            h = np.zeros(count, dtype=np.uint64)
            for j in range(size):
                h = h * _PRIME + chars[j : j + count] + np.uint64(1)
            doc_parts.append(docs[:count][ok])
            hash_parts.append(splitmix64(h[ok] ^ self._tag(2, size)))
        return _concat(doc_parts, np.int64), _concat(hash_parts, np.uint64)

    def _bucket(self, docs: np.ndarray, hashes: np.ndarray, n: int) -> np.ndarray:
        """Signed term-frequency vectors ``(n, dim)``, damped and L2-normalized."""
        buckets = (hashes % np.uint64(self.dim)).astype(np.int64)
        signs = np.where((hashes >> np.uint64(63)) == 1, -1.0, 1.0)
        tf = np.bincount(docs * self.dim + buckets, weights=signs, minlength=n * self.dim)
        tf = tf.reshape(n, self.dim)
        if self.sublinear_tf:
            tf = np.sign(tf) * np.where(tf != 0, 1.0 + np.log(np.maximum(np.abs(tf), 1.0)), 0.0)
        return l2_normalize(tf.astype(np.float32))


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
