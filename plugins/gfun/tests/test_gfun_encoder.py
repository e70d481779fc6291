"""gfun: multi-class and multi-label training, calibration, unseen languages, save/load, conformance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from embedspec.errors import EmbedspecError, NotFittedError, SpecError, UnknownComponentError
from embedspec.plugins import build_component, describe, get_registry
from embedspec.spec import load_spec
from embedspec.testing import check_encoder
from embedspec_gfun.encoder import GFunEncoder, UnknownLanguageError, UnseenLanguageWarning
from gfun_synthetic import TOPICS, make_corpus


def accuracy(pred, gold) -> float:
    return float(np.mean([p == g for p, g in zip(pred, gold)]))


def make(block: dict) -> GFunEncoder:
    return build_component("encoder", {"type": "gfun", **block}, require_state=False)


CONFIGS = [
    {},  # Fun: posteriors only
    {"wce": True},
    {"wce": True, "aggregation": "concat"},
    {"posteriors": False, "wce": True, "probabilistic": False},
    {"wce": True, "sif": True, "probabilistic": False},
]


@pytest.mark.parametrize("block", CONFIGS, ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items()) or "fun")
def test_multiclass_learns_and_posteriors_sum_to_one(block, bilingual_data):
    enc = make(block).fit(*bilingual_data["train"])
    records, gold = bilingual_data["test"]
    assert enc.classes_ == sorted(TOPICS) and enc.multilabel_ is False
    assert enc.languages_ == ["de", "en"]
    assert accuracy(enc.predict(records), gold) >= 0.9
    P = enc.predict_proba(records)
    assert P.shape == (len(records), 3) and P.dtype == np.float64
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert (P >= 0).all()
    n_views = 1 if block.get("posteriors") is False else 2 if block.get("wce") else 1
    assert enc.dim == (3 * n_views if block.get("aggregation") == "concat" else 3)


def test_multilabel(bilingual_data):
    records, labels = bilingual_data["train"]
    # every 4th document also carries the topic of its distractor word
    multi = [[t] + ([TOPICS[(TOPICS.index(t) + 1) % 3]] if i % 60 % 4 == 0 else []) for i, t in enumerate(labels)]
    enc = make({"wce": True}).fit(records, multi)
    assert enc.multilabel_ is True and enc.classes_ == sorted(TOPICS)
    test, gold = bilingual_data["test"]
    pred = enc.predict(test)
    assert all(isinstance(p, list) for p in pred)
    assert np.mean([g in p for p, g in zip(pred, gold)]) >= 0.9  # the main topic is found
    P = enc.predict_proba(test)
    assert ((P > 0) & (P < 1)).all()
    assert not np.allclose(P.sum(axis=1), 1.0)  # independent per-class posteriors
    assert pred == [[c for c, p in zip(enc.classes_, row) if p >= 0.5] for row in P]


def test_integer_labels_round_trip(bilingual_data, tmp_path):
    records, labels = bilingual_data["train"]
    ints = [TOPICS.index(t) * 10 for t in labels]
    enc = make({}).fit(records, ints)
    assert enc.classes_ == [0, 10, 20]
    enc.save(tmp_path)
    again = make({}).load(tmp_path)
    assert again.classes_ == [0, 10, 20]
    assert again.predict(bilingual_data["test"][0]) == enc.predict(bilingual_data["test"][0])


@pytest.mark.parametrize("block", CONFIGS[1:3], ids=["average", "concat"])
def test_save_load_gives_identical_predictions(block, bilingual_data, tmp_path):
    enc = make(block).fit(*bilingual_data["train"])
    records = bilingual_data["test"][0]
    enc.save(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["embedspec-component.json", "state.npz"]
    with np.load(tmp_path / "state.npz", allow_pickle=False) as data:  # pickle-free
        assert "meta.coef" in data.files and "posteriors.0.coef" in data.files and "wce.1.matrix" in data.files
    restored = make({**block, "state": str(tmp_path)}).load(tmp_path)
    np.testing.assert_array_equal(restored.predict_proba(records), enc.predict_proba(records))
    np.testing.assert_array_equal(restored.encode(records), enc.encode(records))
    assert restored.predict(records) == enc.predict(records)


def test_load_refuses_state_of_other_views(bilingual_data, tmp_path):
    make({"wce": True}).fit(*bilingual_data["train"]).save(tmp_path)
    with pytest.raises(EmbedspecError, match=r"saved with views=\['posteriors', 'wce'\]"):
        make({}).load(tmp_path)


def test_check_encoder_conformance(bilingual_data):
    enc = make({"wce": True}).fit(*bilingual_data["train"])
    out = check_encoder(enc, bilingual_data["test"][0][:6])
    assert out.shape == (6, 3)


def test_unfitted_encoder_refuses():
    enc = make({})
    with pytest.raises(NotFittedError, match="not fitted"):
        enc.encode([{"text": "ball", "lang": "en"}])
    with pytest.raises(NotFittedError):
        _ = enc.dim


def test_unseen_language_without_language_independent_view_is_an_error(bilingual_data):
    enc = make({"wce": True}).fit(*bilingual_data["train"])
    french = bilingual_data["french"][0][:3]
    message = r"trained on languages \['de', 'en'\]; records in 'fr' at positions \[1\] are in none of them"
    with pytest.raises(UnknownLanguageError, match=message):
        enc.predict([bilingual_data["test"][0][0], french[0]])
    assert isinstance(UnknownLanguageError("x"), ValueError)


def test_unseen_language_is_served_by_embeddings_with_a_warning(bilingual_data, concept_encoder_plugin):
    enc = make({"wce": True, "embeddings": {"type": "test-concepts"}}).fit(*bilingual_data["train"])
    french, gold = bilingual_data["french"]
    message = r"not trained on 'fr' at positions \[0, 1, 2, 3, 4\]\.\.\.: served by the embeddings view only"
    with pytest.warns(UnseenLanguageWarning, match=message):
        pred = enc.predict(french)
    assert accuracy(pred, gold) >= 0.9  # zero-shot French through the language-independent view
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # known languages: no warning
        enc.predict(bilingual_data["test"][0])


CONCEPTS = {"type": "test-concepts"}
SMALL_GRIDS = {"C": [1.0, 100.0], "map_C": [0.1, 10.0], "meta_C": [0.01, 1.0]}  # selection, but quick


@pytest.mark.parametrize(
    "block",
    [
        {"embeddings": CONCEPTS},
        {"wce": True, "embeddings": CONCEPTS, "aggregation": "concat"},
        {"embeddings": CONCEPTS, "aggregation": "concat", "probabilistic": False},
    ],
    ids=["average", "concat", "concat-raw-embeddings"],
)
def test_unseen_language_equals_a_model_of_the_embeddings_view_alone(block, bilingual_data, concept_encoder_plugin):
    """Not mean-filling: unseen-language records get the metaclassifier trained on the embeddings view only."""
    records, labels = bilingual_data["train"]
    groups = [i % 60 for i in range(len(records))]  # en and de documents i share a group, like translations
    block = block | SMALL_GRIDS
    full = make(block).fit(records, labels, groups=groups)
    alone_block = {k: v for k, v in block.items() if k != "wce"} | {"posteriors": False}
    alone = make(alone_block).fit(records, labels, groups=groups)
    french = bilingual_data["french"][0]
    known = bilingual_data["test"][0][:10]
    with pytest.warns(UnseenLanguageWarning, match="through the metaclassifier trained on that view alone"):
        P = full.predict_proba(french + known)  # one batch mixing unseen and known languages
    np.testing.assert_array_equal(P[: len(french)], alone.predict_proba(french))
    np.testing.assert_array_equal(P[len(french) :], full.predict_proba(known))
    assert full.selected_["meta_C"]["embeddings"] == alone.selected_["meta_C"]["embeddings"]
    assert full.selected_["map_C"].get("embeddings") == alone.selected_["map_C"].get("embeddings")


def test_concat_encode_of_unseen_language_fills_missing_views_with_training_mean(bilingual_data, concept_encoder_plugin):
    """encode() keeps a fixed width (neutral slots); predictions go through the embeddings-only metaclassifier."""
    enc = make({"aggregation": "concat", "embeddings": {"type": "test-concepts"}}).fit(*bilingual_data["train"])
    with pytest.warns(UnseenLanguageWarning):
        Z = enc.encode(bilingual_data["french"][0][:2])
    mean = enc.metaclassifiers["posteriors+embeddings"].standardizer.mean
    np.testing.assert_allclose(Z[:, :3], np.tile(mean[:3], (2, 1)).astype(np.float32))


def test_non_probabilistic_average_needs_equal_dims(bilingual_data, concept_encoder_plugin):
    enc = make({"probabilistic": False, "embeddings": {"type": "test-concepts"}})
    message = r"'average' needs views of one dimension, got \{'posteriors': 3, 'embeddings': 6\}"
    with pytest.raises(EmbedspecError, match=message):
        enc.fit(*bilingual_data["train"])
    concat = make({"probabilistic": False, "aggregation": "concat", "embeddings": {"type": "test-concepts"}})
    assert concat.fit(*bilingual_data["train"]).dim == 9


@pytest.mark.parametrize(
    ("records", "error", "message"),
    [
        (["plain text"], TypeError, "input at position 0 is str"),
        ([{"text": "ball"}], ValueError, "record at position 0 has no 'lang' field"),
        ([{"text": "a", "lang": "en"}, {"text": 3, "lang": "en"}], TypeError, "position 1, field 'text' is int"),
    ],
)
def test_bad_records_name_position_and_field(records, error, message, bilingual_data):
    enc = make({}).fit(*bilingual_data["train"])
    with pytest.raises(error, match=message):
        enc.encode(records)
    with pytest.raises(error, match=message):
        make({}).fit(records, ["x"] * len(records))


def test_bad_labels(bilingual_data):
    records, labels = bilingual_data["train"]
    with pytest.raises(ValueError, match="got 119 labels for 120 records"):
        make({}).fit(records, labels[:-1])
    with pytest.raises(ValueError, match="label at position 1 is not a list of labels"):
        make({}).fit(records[:2], [["a"], "b"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        make({}).fit(records[:2], ["a", "a"])


def test_spec_block_validation_and_round_trip(concept_encoder_plugin):
    reg = get_registry().get("encoder", "gfun")
    block = {"wce": True, "embeddings": {"type": "test-concepts", "dim": 4}, "aggregation": "concat"}
    built = build_component("encoder", {"type": "gfun", **block}, require_state=False)
    assert built.embeddings.dim == 4 and type(built.embeddings).__name__ != "dict"  # built by the registry
    assert describe(built) == {"type": "gfun", **block}
    with pytest.raises(UnknownComponentError, match="unknown encoder type 'test-concept'; did you mean 'test-concepts'"):
        build_component("encoder", {"type": "gfun", "embeddings": {"type": "test-concept"}}, require_state=False)
    spec = ("version: 1\nencoder:\n  type: gfun\n  embeddings:\n    type: test-concepts\n    size: 3\n"
            "index: {type: exact}\n")
    with pytest.raises(SpecError) as exc:  # a nested block is validated like any block, with its line
        load_spec(spec)
    assert [(i.line, i.path) for i in exc.value.issues] == [(6, "encoder.embeddings.size")]
    with pytest.raises(ValueError, match="at least one view"):
        reg.config_model.model_validate({"posteriors": False})
    with pytest.raises(ValueError, match="aggregation"):
        reg.config_model.model_validate({"aggregation": "sum"})


def test_low_resource_language_benefits_from_the_shared_view(concept_encoder_plugin):
    """German with 6 training docs: the language-independent view carries what English taught."""
    en, y_en = make_corpus("en", 90, seed=7)
    de, y_de = make_corpus("de", 6, seed=8)
    test, gold = make_corpus("de", 60, seed=9)
    fun = make({}).fit(en + de, y_en + y_de)
    acc_fun = accuracy(fun.predict(test), gold)
    for block in ({"embeddings": {"type": "test-concepts"}},
                  {"wce": True, "embeddings": {"type": "test-concepts"}, "aggregation": "concat"}):
        gfun = make(block).fit(en + de, y_en + y_de)
        acc_gfun = accuracy(gfun.predict(test), gold)
        assert acc_gfun >= 0.95 and acc_gfun > acc_fun, (block, acc_fun, acc_gfun)
