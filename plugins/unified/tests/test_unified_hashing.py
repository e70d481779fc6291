"""Fingerprints and salted bucketing: stable, equal-value consistent, evenly spread, independent probes."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec_unified.config import FeatureConfig
from embedspec_unified.hashing import bucket, fingerprint, salt
from embedspec_unified.layouts import HashingTrickLayout, PerFeatureLayout, UnifiedLayout, allocate_buckets


def test_fingerprint_is_stable_and_respects_equality() -> None:
    # Fixed value: the hash must not change between processes or versions (saved tables depend on it).
    import hashlib

    assert fingerprint("abc") == int.from_bytes(hashlib.blake2b(b"sabc", digest_size=8).digest(), "little")
    assert fingerprint(1) == fingerprint(1.0) == fingerprint(True) == fingerprint(np.int64(1))
    assert fingerprint("1") != fingerprint(1)
    assert fingerprint(b"x") != fingerprint("x")
    assert fingerprint(None) != fingerprint("None")
    assert fingerprint(0.5) == fingerprint(np.float32(0.5))


def _chi_square(rows: np.ndarray, n_rows: int) -> tuple[float, int]:
    counts = np.bincount(rows, minlength=n_rows)
    expected = len(rows) / n_rows
    return float(((counts - expected) ** 2 / expected).sum()), n_rows - 1


@pytest.mark.parametrize("values", ["ints", "strings"])
def test_buckets_spread_evenly_chi_square(values: str) -> None:
    n, n_rows = 200_000, 1000
    raw = range(n) if values == "ints" else (f"user-{i}" for i in range(n))
    fps = np.array([fingerprint(v) for v in raw], dtype=np.uint64)
    for probe in range(3):
        stat, df = _chi_square(bucket(fps, salt(0, "user", probe), n_rows), n_rows)
        # chi2(df) has mean df and sd sqrt(2 df); 5 sd is a bound a uniform hash passes with certainty
        assert stat < df + 5 * np.sqrt(2 * df), (probe, stat)
        assert stat > df - 5 * np.sqrt(2 * df), (probe, stat)  # not suspiciously regular either


def test_probes_and_features_hash_independently() -> None:
    fps = np.array([fingerprint(i) for i in range(50_000)], dtype=np.uint64)
    n_rows = 500
    a = bucket(fps, salt(0, "user", 0), n_rows)
    b = bucket(fps, salt(0, "user", 1), n_rows)
    c = bucket(fps, salt(0, "item", 0), n_rows)
    d = bucket(fps, salt(1, "user", 0), n_rows)
    for other in (b, c, d):
        agree = float(np.mean(a == other))
        assert abs(agree - 1 / n_rows) < 5 * np.sqrt(1 / n_rows / len(fps)), agree
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.03
    assert np.array_equal(a, bucket(fps, salt(0, "user", 0), n_rows))


def test_layouts_address_the_flat_table() -> None:
    feats = {"u": FeatureConfig(num_chunks=3), "g": FeatureConfig(), "t": FeatureConfig(num_chunks=2)}
    fps = np.array([fingerprint(i) for i in range(1000)], dtype=np.uint64)
    uni = UnifiedLayout(feats, 64, seed=0)
    rows = uni.rows("u", fps)
    assert rows.shape == (1000, 3) and rows.min() >= 0 and rows.max() < 64
    assert not np.array_equal(uni.rows("u", fps)[:, 0], uni.rows("t", fps)[:, 0])  # per-feature salt
    ht = HashingTrickLayout(feats, 64, seed=0)
    assert ht.num_rows == 63  # 21 buckets of width 3
    # no per-feature salt: the same value lands in the same bucket for every feature
    assert np.array_equal(ht.rows("u", fps)[:, :2], ht.rows("t", fps))
    assert np.array_equal(ht.rows("u", fps)[:, :1], ht.rows("g", fps))
    pf = PerFeatureLayout(feats, [5, 2, 4], seed=0)
    assert pf.num_rows == 5 * 3 + 2 + 4 * 2
    u, g, t = pf.rows("u", fps), pf.rows("g", fps), pf.rows("t", fps)
    assert set(np.unique(u)) == set(range(15)) and set(np.unique(g)) == {15, 16}
    assert set(np.unique(t)) == set(range(17, 25))
    assert np.all(u[:, 1] == u[:, 0] + 1)  # one bucket = k consecutive rows


def test_allocate_buckets_respects_the_budget() -> None:
    cards, chunks = [943, 1682, 7, 2, 21], [4, 4, 1, 1, 1]
    for budget in (11, 100, 1000, 20_000, 10**6):
        buckets = allocate_buckets(budget, cards, chunks)
        used = sum(b * k for b, k in zip(buckets, chunks))
        assert used <= budget and all(b >= 1 for b in buckets)
    tight = allocate_buckets(1000, cards, chunks)
    assert tight[2:] == [7, 2, 21]  # small vocabularies are served in full (one bucket per value)
    assert abs(tight[1] / tight[0] - 1681 / 942) < 0.05  # the big ones shrink by the same factor
    roomy = allocate_buckets(100_000, cards, chunks)  # budget covers every need: same load factor
    loads = [(b - 1) / (c - 1) for b, c in zip(roomy, cards)]  # one base bucket + the share
    assert min(loads) >= 9 and max(loads) / min(loads) < 1.1  # up to flooring
    with pytest.raises(ValueError, match="sum of num_chunks"):
        allocate_buckets(10, cards, chunks)
