"""The unified-embedding encoder and its baselines: conformance, determinism, pooling, state, quality."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.errors import EmbedspecError, SpecError
from embedspec.plugins import get_registry
from embedspec.testing import check_encoder
from embedspec_unified import (
    HashingTrickEncoder,
    PerFeatureEmbeddingEncoder,
    UnifiedEmbeddingEncoder,
    log_loss,
    roc_auc,
)
from unified_synthetic import FEATURES

CLASSES = [UnifiedEmbeddingEncoder, PerFeatureEmbeddingEncoder, HashingTrickEncoder]
SMALL = dict(features=FEATURES, rows=256, chunk_dim=4, epochs=2)


def test_registered_under_their_names() -> None:
    reg = get_registry()
    for name, cls in [("unified-embedding", UnifiedEmbeddingEncoder), ("per-feature-embedding", PerFeatureEmbeddingEncoder), ("hashing-trick", HashingTrickEncoder)]:
        assert reg.get("encoder", name).factory is cls
    enc = reg.get("encoder", "unified-embedding").create({"features": {"genres": {"multivalued": True}}, "rows": 64})
    assert enc.rows == 64 and enc.dim == 8 and enc.modalities == frozenset({"record"})


@pytest.mark.parametrize("cls", CLASSES)
def test_check_encoder_passes(cls, dataset) -> None:
    records, targets, _ = dataset
    enc = cls(**SMALL).fit(records[:3000], targets[:3000])
    out = check_encoder(enc, records[:50])
    assert out.shape == (50, (2 + 2 + 1 + 1) * 4)


def test_same_seed_same_model_other_seed_other_model(dataset) -> None:
    records, targets, _ = dataset
    a = UnifiedEmbeddingEncoder(**SMALL, seed=7).fit(records[:3000], targets[:3000])
    b = UnifiedEmbeddingEncoder(**SMALL, seed=7).fit(records[:3000], targets[:3000])
    c = UnifiedEmbeddingEncoder(**SMALL, seed=8).fit(records[:3000], targets[:3000])
    assert np.array_equal(a.table_, b.table_) and np.array_equal(a.w1_, b.w1_)
    assert a.history_ == b.history_
    assert np.array_equal(a.predict_proba(records[3000:3100]), b.predict_proba(records[3000:3100]))
    assert not np.allclose(a.encode(records[:20]), c.encode(records[:20]))


def test_multivalued_pooling_mean_and_sum(fitted_unified) -> None:
    enc = fitted_unified
    cols = enc.feature_slices["tags"]
    base = {"user": 1, "item": "item-1", "city": "c1"}
    one = enc.encode([{**base, "tags": ["t1"]}, {**base, "tags": ["t2"]}, {**base, "tags": ["t3"]}])[:, cols]
    both = enc.encode([{**base, "tags": ["t1", "t2", "t3"]}, {**base, "tags": []}])[:, cols]
    np.testing.assert_allclose(both[0], one.mean(axis=0), rtol=1e-6, atol=1e-7)
    assert np.all(both[1] == 0)
    params = {k: getattr(enc, k) for k in ("rows", "chunk_dim", "seed")}
    as_sum = UnifiedEmbeddingEncoder(**params, features={**FEATURES, "tags": {"multivalued": True, "pooling": "sum"}})
    as_sum.table_, as_sum.w2_, as_sum.b2_ = enc.table_, np.zeros(1), np.zeros(1)  # pooling only reads the table
    summed = as_sum.encode([{**base, "tags": ["t1", "t2", "t3"]}])[:, cols]
    np.testing.assert_allclose(summed[0], one.sum(axis=0), rtol=1e-6, atol=1e-7)
    # order and duplicates: a set pools like the list, and a repeated value counts twice
    again = enc.encode([{**base, "tags": {"t3", "t1", "t2"}}, {**base, "tags": ["t1", "t1", "t2"]}])[:, cols]
    np.testing.assert_allclose(again[0], both[0], rtol=1e-6)
    np.testing.assert_allclose(again[1], (2 * one[0] + one[1]) / 3, rtol=1e-5, atol=1e-7)


def test_multi_probe_vectors_are_table_rows(fitted_unified) -> None:
    enc = fitted_unified
    layout = enc._layout()
    from embedspec_unified.hashing import fingerprint

    rows = layout.rows("user", np.array([fingerprint(5)], dtype=np.uint64))[0]
    vec = enc.encode_features([{"user": 5}], ["user"])[0]
    np.testing.assert_array_equal(vec, enc.table_[rows].reshape(-1))
    full = enc.encode([{"user": 5, "item": "item-2", "city": "c5", "tags": ["t1"]}])[0]
    np.testing.assert_array_equal(full[enc.feature_slices["user"]], vec)


@pytest.mark.parametrize("cls", CLASSES)
def test_save_load_round_trip_is_exact(cls, dataset, tmp_path) -> None:
    records, targets, _ = dataset
    enc = cls(**{**SMALL, "head": "logistic" if cls is HashingTrickEncoder else "mlp"}).fit(records[:3000], targets[:3000])
    enc.save(tmp_path / "state")
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["embedspec-component.json", "state.npz"]
    block = get_registry().get("encoder", {UnifiedEmbeddingEncoder: "unified-embedding", PerFeatureEmbeddingEncoder: "per-feature-embedding", HashingTrickEncoder: "hashing-trick"}[cls])
    clone = block.create({**{k: getattr(enc, k) for k in ("features", "rows", "chunk_dim", "epochs", "head")}, "state": str(tmp_path / "state")})
    clone.load(clone.state)
    probe = records[3000:3500]
    np.testing.assert_array_equal(clone.encode(probe), enc.encode(probe))
    np.testing.assert_array_equal(clone.predict_proba(probe), enc.predict_proba(probe))
    assert clone.history_ == enc.history_ and clone.best_epoch_ == enc.best_epoch_
    if cls is PerFeatureEmbeddingEncoder:
        assert clone.feature_buckets_ == enc.feature_buckets_
    wrong = cls(**{**SMALL, "head": "logistic" if enc.head == "mlp" else "mlp"})
    with pytest.raises(EmbedspecError, match="another head"):
        wrong.load(tmp_path / "state")
    other = HashingTrickEncoder if cls is UnifiedEmbeddingEncoder else UnifiedEmbeddingEncoder
    mismatched = other(**{**SMALL, "head": enc.head, "rows": 300})
    with pytest.raises(EmbedspecError, match="another encoder type or config|no feature_buckets_"):
        mismatched.load(tmp_path / "state")
    assert not mismatched.is_fitted  # a refused state leaves nothing behind
    wider = cls(**{**SMALL, "head": enc.head, "features": {**FEATURES, "city": {"num_chunks": 2}}})
    with pytest.raises(EmbedspecError, match="saved head reads 24 inputs; these features give 28"):
        wider.load(tmp_path / "state")


def _target_mean_auc(train, y_train, test, y_test, feature) -> float:
    """AUC of the smoothed per-value click rate of one feature (a popularity baseline)."""
    prior, sums, counts = y_train.mean(), {}, {}
    for rec, y in zip(train, y_train):
        sums[rec[feature]] = sums.get(rec[feature], 0.0) + y
        counts[rec[feature]] = counts.get(rec[feature], 0) + 1
    scores = [(sums.get(r[feature], 0.0) + 5 * prior) / (counts.get(r[feature], 0) + 5) for r in test]
    return roc_auc(y_test, np.array(scores))


def test_learns_the_known_structure_and_beats_the_baseline(fitted_unified, dataset) -> None:
    records, targets, logits = dataset
    test, y_test = records[10000:], targets[10000:]
    proba = fitted_unified.predict_proba(test)
    auc = roc_auc(y_test, proba)
    oracle = roc_auc(y_test, logits[10000:])  # the true logits: the best any model can do
    baseline = max(_target_mean_auc(records[:10000], targets[:10000], test, y_test, f) for f in ("user", "item", "city"))
    constant = log_loss(y_test, np.full(len(y_test), targets[:10000].mean()))
    assert auc > baseline + 0.05, (auc, baseline)
    assert auc > oracle - 0.08, (auc, oracle)
    assert log_loss(y_test, proba) < constant - 0.05
    assert 1 <= fitted_unified.best_epoch_ <= len(fitted_unified.history_) <= 15
    val = [h["val_loss"] for h in fitted_unified.history_]
    assert min(val) == val[fitted_unified.best_epoch_ - 1]


def test_explicit_validation_adagrad_and_no_validation(dataset) -> None:
    records, targets, _ = dataset
    enc = UnifiedEmbeddingEncoder(**{**SMALL, "optimizer": "adagrad", "learning_rate": 0.1, "epochs": 3})
    enc.fit(records[:4000], targets[:4000], validation=(records[4000:5000], targets[4000:5000]))
    assert roc_auc(targets[5000:7000], enc.predict_proba(records[5000:7000])) > 0.65
    free = UnifiedEmbeddingEncoder(**{**SMALL, "validation_fraction": 0.0}).fit(records[:2000], targets[:2000])
    assert [h["epoch"] for h in free.history_] == [1, 2] and "val_loss" not in free.history_[0]


def test_parameter_budget_is_shared(dataset) -> None:
    records, targets, _ = dataset
    sizes = {}
    for cls in CLASSES:
        enc = cls(**{**SMALL, "head": "logistic", "epochs": 1}).fit(records[:2000], targets[:2000])
        sizes[cls] = enc.table_.size
        assert enc.table_.size <= 256 * 4 and enc.num_parameters == enc.table_.size + enc.dim + 1
    assert sizes[UnifiedEmbeddingEncoder] == 256 * 4
    assert sizes[HashingTrickEncoder] == (256 // 2) * 2 * 4  # width 2 chunks


def test_encode_features_checks_names(fitted_unified) -> None:
    with pytest.raises(EmbedspecError, match="configured feature names"):
        fitted_unified.encode_features([{"age": 3}], ["age"])
    users = fitted_unified.encode_features([{"user": 1, "city": "c1"}, {"user": 2, "city": "c2"}], ["city", "user"])
    assert users.shape == (2, (2 + 1) * 4) and users.dtype == np.float32


def test_output_features_encode_partial_records(fitted_unified, dataset, tmp_path) -> None:
    fitted_unified.save(tmp_path / "state")
    params = {k: getattr(fitted_unified, k) for k in ("features", "rows", "chunk_dim", "seed", "epochs", "batch_size")}
    users = UnifiedEmbeddingEncoder(**params, output_features=["user"]).load(tmp_path / "state")
    assert users.dim == 2 * 4 and list(users.feature_slices) == ["user"]
    out = check_encoder(users, [{"user": i} for i in range(5)])
    np.testing.assert_array_equal(out, fitted_unified.encode_features([{"user": i} for i in range(5)], ["user"]))
    with pytest.raises(EmbedspecError, match="position 0 has unknown feature 'item'"):
        users.encode([{"user": 1, "item": "item-1"}])
    assert users.predict_proba([{"user": 1, "item": "item-1", "city": "c1", "tags": []}]).shape == (1,)
    fitted_users = UnifiedEmbeddingEncoder(**{**params, "epochs": 1}, output_features=["user"])
    fitted_users.fit(dataset[0][:2000], dataset[1][:2000])  # the model still reads every feature
    assert fitted_users.w1_.shape[0] == fitted_unified.w1_.shape[0] and fitted_users.dim == 8
    with pytest.raises(SpecError, match="output_features must name configured features"):  # at construction
        UnifiedEmbeddingEncoder(**params, output_features=["age"])
