"""The ``procrustes`` aligner: exact recovery of known maps, bad input, SIB-200 bitext retrieval."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from embedspec.builtin.hashing import HashingEncoder
from embedspec.builtin.procrustes import ProcrustesAligner
from embedspec.errors import DimensionMismatchError, NotFittedError
from embedspec.testing import check_aligner

RNG = np.random.default_rng(0)


def rotation(d: int, seed: int = 1) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def test_conformance() -> None:
    X = RNG.standard_normal((50, 12)).astype(np.float32)
    out = check_aligner(ProcrustesAligner(), X, X @ rotation(12))
    assert out.shape == (50, 12)


def test_recovers_a_known_rotation() -> None:
    X = RNG.standard_normal((200, 32))
    R = rotation(32)
    aligner = ProcrustesAligner(normalize=False).fit(X, X @ R)
    np.testing.assert_allclose(aligner.W_, R, atol=1e-5)
    np.testing.assert_allclose(aligner.transform(X[:5]), (X[:5] @ R), atol=1e-5)
    np.testing.assert_allclose(aligner.W_.T @ aligner.W_, np.eye(32), atol=1e-5)


def test_normalize_and_center() -> None:
    X = RNG.standard_normal((300, 16))
    R = rotation(16, seed=2)
    normed = ProcrustesAligner().fit(X, X @ R)  # rotations keep norms: same map
    np.testing.assert_allclose(normed.W_, R, atol=1e-5)
    out = normed.transform(X[:4])
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    shift = RNG.standard_normal(16)
    centered = ProcrustesAligner(center=True, normalize=False).fit(X + 3.0, X @ R + shift)
    np.testing.assert_allclose(centered.transform(X[:4] + 3.0), X[:4] @ R + shift, atol=1e-4)
    plain = ProcrustesAligner(normalize=False).fit(X + 3.0, X @ R + shift)
    assert np.abs(plain.transform(X[:4] + 3.0) - (X[:4] @ R + shift)).max() > 0.1  # a rotation cannot shift


def test_different_dimensions_use_the_semi_orthogonal_map() -> None:
    X = RNG.standard_normal((200, 16))
    R = rotation(24, seed=3)
    Y = np.hstack([X, np.zeros((200, 8))]) @ R  # the source embedded isometrically in 24 dims
    up = ProcrustesAligner(normalize=False).fit(X, Y)
    assert up.W_.shape == (16, 24) and up.output_dim(16) == 24
    np.testing.assert_allclose(up.W_ @ up.W_.T, np.eye(16), atol=1e-5)
    np.testing.assert_allclose(up.transform(X[:5]), Y[:5], atol=1e-4)
    down = ProcrustesAligner(normalize=False).fit(Y, X)  # and back: a projection
    assert down.W_.shape == (24, 16)
    np.testing.assert_allclose(down.transform(Y[:5]), X[:5], atol=1e-4)
    check_aligner(ProcrustesAligner(), X.astype(np.float32), Y.astype(np.float32))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="paired anchors: 10 source rows but 9 target rows"):
        ProcrustesAligner().fit(np.ones((10, 4)), np.ones((9, 4)))
    with pytest.raises(NotFittedError):
        ProcrustesAligner().transform(np.ones((1, 4)))
    aligner = ProcrustesAligner().fit(RNG.standard_normal((10, 4)), RNG.standard_normal((10, 4)))
    with pytest.raises(DimensionMismatchError, match="dimension 5.*source dimension 4"):
        aligner.transform(np.ones((1, 5)))
    bad = np.ones((10, 4))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="row 3, column 1"):
        ProcrustesAligner().fit(bad, np.ones((10, 4)))


def _parallel(root, split: str) -> tuple[list[str], list[str]]:
    def read(lang: str) -> dict[str, str]:
        with open(root / lang / f"{split}.tsv", encoding="utf-8", newline="") as fh:
            return {r["index_id"]: r["text"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)}

    eng, deu = read("eng_Latn"), read("deu_Latn")
    ids = sorted(set(eng) & set(deu))
    return [eng[i] for i in ids], [deu[i] for i in ids]


def _bitext_accuracy(S: np.ndarray, T: np.ndarray) -> float:
    return float((np.argmax(S @ T.T, axis=1) == np.arange(len(S))).mean())


@pytest.mark.slow
def test_sib200_alignment_of_two_hashing_spaces(shared_data) -> None:
    root = shared_data / "sib200"
    train_en, train_de = _parallel(root, "train")
    dev_en, dev_de = _parallel(root, "dev")
    assert len(train_en) == 701 and len(dev_en) == 99
    source, target = HashingEncoder(seed=0), HashingEncoder(seed=1)  # two unrelated 1024-d spaces
    aligner = ProcrustesAligner().fit(source.encode(train_en), target.encode(train_de))
    dev_src, dev_tgt = source.encode(dev_en), target.encode(dev_de)
    unaligned = _bitext_accuracy(dev_src, dev_tgt)
    aligned = _bitext_accuracy(aligner.transform(dev_src), dev_tgt)
    # measured: 0.010 unaligned (chance is 0.010), 0.424 aligned; the same seed for both gives 0.566
    assert unaligned < 0.05, unaligned
    assert aligned > 0.3 and aligned - unaligned > 0.25, (unaligned, aligned)
