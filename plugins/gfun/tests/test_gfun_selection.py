"""Model selection of C: against a brute-force scikit-learn reference, on constructed cases with a known
answer, grouped folds (parallel corpora), and inside gfun's fit (recorded, saved, restored)."""

from __future__ import annotations

import numpy as np
import pytest
from embedspec.plugins import build_component, get_registry
from embedspec_gfun.linear import fold_splits
from embedspec_gfun.selection import Selection, first_appearance_codes, macro_f1, select_linear
from gfun_synthetic import TOPICS, make_corpus
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score


def make(block: dict):
    return build_component("encoder", {"type": "gfun", **block}, require_state=False)


def problem(seed: int, n: int = 150, d: int = 8, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes with overlapping means: ``X (n, d)``, one-hot ``Y (n, classes)``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    X = rng.standard_normal((n, d)) + 0.8 * rng.standard_normal((classes, d))[y]
    return X, np.eye(classes)[y]


@pytest.mark.parametrize("grouped", [False, True], ids=["plain", "grouped"])
def test_cross_validated_scores_equal_a_brute_force_scikit_learn_reference(grouped):
    X, Y = problem(0)
    y = Y.argmax(axis=1)
    groups = np.arange(len(y)) // 3 if grouped else None  # triples of rows, like translations
    sel = Selection((0.001, 0.01, 0.1, 1.0, 10.0), folds=5, seed=3, multilabel=False, groups=groups)
    chosen = select_linear(X, Y, sel)
    expected = {}
    for C in sel.grid:
        pred = np.empty_like(y)
        for train, held in fold_splits(Y, 5, 3, False, groups):
            if grouped:
                assert not set(groups[train]) & set(groups[held])  # no group on both sides
            pred[held] = LogisticRegression(C=C, max_iter=10000, tol=1e-10).fit(X[train], y[train]).predict(X[held])
        expected[C] = f1_score(y, pred, average="macro")
    assert chosen.scores == pytest.approx(expected, abs=1e-12)
    assert chosen.scores[chosen.C] == max(expected.values())
    ref = LogisticRegression(C=chosen.C, max_iter=10000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(chosen.model.predict_proba(X), ref.predict_proba(X), atol=1e-5)  # both converged


def test_validation_set_built_to_favour_one_C_selects_it():
    """Validation rows where the candidate models disagree, labelled as the C=0.1 model predicts: only
    that C scores macro-F1 1.0 on them."""
    X, Y = problem(1, n=60, d=20)
    grid = (0.003, 0.1, 30.0)
    models = {C: LogisticRegression(C=C, max_iter=10000, tol=1e-10).fit(X, Y.argmax(axis=1)) for C in grid}
    candidates = np.random.default_rng(2).standard_normal((4000, 20)) * 2
    preds = {C: m.predict(candidates) for C, m in models.items()}
    rows = np.flatnonzero((preds[0.1] != preds[0.003]) | (preds[0.1] != preds[30.0]))
    for other in (0.003, 30.0):
        assert (preds[0.1][rows] != preds[other][rows]).any()
    X_val, Y_val = candidates[rows], np.eye(3)[preds[0.1][rows]]
    chosen = select_linear(X, Y, Selection(grid, folds=5, seed=0, multilabel=False), validation=(X_val, Y_val))
    assert chosen.C == 0.1
    assert chosen.scores[0.1] == 1.0 and max(chosen.scores[0.003], chosen.scores[30.0]) < 1.0
    assert chosen.oof is not None and chosen.oof.shape == Y.shape  # out-of-fold for the chosen C only


def test_cross_validation_rejects_a_C_that_collapses_to_the_majority_class():
    """Separable but imbalanced (90/10): with C=1e-5 the coefficients vanish and every prediction is the
    majority class (macro-F1 about 0.47); C=10 separates the classes."""
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(-3, -0.5, 180), rng.uniform(0.5, 3, 20)])
    Y = np.eye(2)[(x > 0).astype(int)]
    chosen = select_linear(x[:, None], Y, Selection((1e-5, 10.0), folds=5, seed=0, multilabel=False))
    assert chosen.C == 10.0
    assert chosen.scores[10.0] == 1.0 and chosen.scores[1e-5] < 0.5


def test_grouped_folds_stop_translations_from_leaking_into_the_out_of_fold_score():
    """Random labels, every document twice (a near-copy, like a translation): ungrouped folds let the
    twin teach the held-out copy its label; grouped folds show there is nothing to learn."""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((100, 200))
    X = np.concatenate([base, base + 0.01 * rng.standard_normal(base.shape)])
    Y = np.eye(2)[np.tile(rng.integers(0, 2, 100), 2)]
    groups = np.tile(np.arange(100), 2)
    plain = select_linear(X, Y, Selection((100.0,), folds=5, seed=0, multilabel=False))
    grouped = select_linear(X, Y, Selection((100.0,), folds=5, seed=0, multilabel=False, groups=groups))
    leaked = macro_f1(Y, plain.oof, multilabel=False, threshold=0.5)
    honest = macro_f1(Y, grouped.oof, multilabel=False, threshold=0.5)
    assert leaked > 0.9 and honest < 0.6, (leaked, honest)


@pytest.mark.parametrize("seed", range(12))
def test_fuzz_grouped_folds_hold_each_row_out_once_and_never_split_a_group(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    groups = rng.integers(0, max(1, n // int(rng.integers(1, 4))), n)
    multilabel = bool(rng.integers(0, 2))
    Y = (rng.random((n, 3)) < 0.4).astype(float) if multilabel else np.eye(3)[rng.integers(0, 3, n)]
    splits = list(fold_splits(Y, int(rng.integers(2, 7)), seed, multilabel, groups))
    if len(np.unique(groups)) < 2:
        assert splits == []
        return
    held = np.concatenate([h for _, h in splits])
    assert sorted(held.tolist()) == list(range(n))
    for train, h in splits:
        assert len(h) and not set(groups[train]) & set(groups[h])
        assert sorted(np.concatenate([train, h]).tolist()) == list(range(n))


def test_first_appearance_codes():
    np.testing.assert_array_equal(first_appearance_codes(np.array(["b", "a", "b", "c"])), [0, 1, 0, 2])
    np.testing.assert_array_equal(first_appearance_codes(np.array([7, 3, 7])), [0, 1, 0])


# ---- inside gfun --------------------------------------------------------------------------
def test_fit_selects_every_C_and_records_it(bilingual_data, concept_encoder_plugin, tmp_path):
    block = {"wce": True, "embeddings": {"type": "test-concepts"}, "C": [0.1, 100.0], "map_C": [0.01, 10.0],
             "meta_C": [0.001, 1.0]}
    enc = make(block).fit(*bilingual_data["train"])
    sel = enc.selected_
    assert set(sel) == {"C", "map_C", "meta_C"}
    assert set(sel["C"]) == {"de", "en"} and set(sel["map_C"]) == {"wce", "embeddings"}
    assert set(sel["meta_C"]) == {"posteriors+wce+embeddings", "embeddings"}
    scores = enc.selection_scores_
    assert scores["metric"] == "macro-F1 of out-of-fold predictions (5 folds)"
    for field, grid in (("C", block["C"]), ("map_C", block["map_C"]), ("meta_C", block["meta_C"])):
        for component, C in sel[field].items():
            assert C in grid
            table = scores[field][component]
            assert set(table) == {repr(c) for c in grid}
            assert table[repr(C)] == max(table.values())
    # the state keeps the chosen values; the restored encoder predicts identically
    enc.save(tmp_path)
    again = make({**block, "state": str(tmp_path)}).load(tmp_path)
    assert again.selected_ == sel and again.selection_scores_ == scores
    records = bilingual_data["test"][0] + bilingual_data["french"][0][:10]
    with pytest.warns(UserWarning):
        np.testing.assert_array_equal(again.predict_proba(records), enc.predict_proba(records))
    with np.load(tmp_path / "state.npz", allow_pickle=False) as data:
        assert "meta.coef" in data.files and "meta.embeddings.coef" in data.files


def test_a_fixed_C_is_used_as_given(bilingual_data):
    enc = make({"C": 10.0, "meta_C": 1.0}).fit(*bilingual_data["train"])
    assert enc.selected_ == {"C": {"en": 10.0, "de": 10.0}, "map_C": {}, "meta_C": {"posteriors": 1.0}}
    assert enc.selection_scores_["C"] == {} and enc.selection_scores_["meta_C"] == {}


def test_validation_set_drives_selection(bilingual_data):
    records, labels = bilingual_data["test"]
    enc = make({"C": [0.1, 100.0], "meta_C": [0.001, 1.0]}).fit(*bilingual_data["train"], validation=(records, labels))
    assert enc.selection_scores_["metric"] == "macro-F1 on the validation set"
    for lang in ("en", "de"):
        pos = [i for i, r in enumerate(records) if r["lang"] == lang]
        P = enc._views[0].models[lang].predict_proba(enc._tfidf[lang].transform([records[i]["text"] for i in pos]))
        gold = [labels[i] for i in pos]
        # the recorded score of the chosen C is the validation macro-F1 of the kept classifier
        assert enc.selection_scores_["C"][lang][repr(enc.selected_["C"][lang])] == pytest.approx(
            f1_score(gold, [enc.classes_[j] for j in P.argmax(axis=1)], average="macro"), abs=1e-12
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"groups": ["g"] * 5}, ValueError, "got 5 groups for 120 records; give one group id per record"),
        ({"groups": "abc"}, ValueError, "got a string for 120 records"),
        ({"groups": [1.5] * 120}, TypeError, "group at position 0 is 1.5; group ids are str or int"),
        ({"validation": ([{"text": "ball", "lang": "en"}], ["sports", "science"])}, ValueError,
         "validation has 1 records but 2 labels"),
        ({"validation": ([{"text": "ball", "lang": "en"}], ["cooking"])}, ValueError,
         r"validation label at position 0, 'cooking', is not among the training classes \['politics', 'science', 'sports'\]"),
        ({"validation": ([{"text": "ball"}], ["sports"])}, ValueError, "gfun.fit validation: record at position 0 has no 'lang'"),
        ({"validation": [[{"text": "ball", "lang": "en"}]]}, TypeError, r"validation must be a pair \(records, labels\)"),
    ],
)
def test_bad_groups_and_validation_sets_are_named(kwargs, error, message, bilingual_data):
    with pytest.raises(error, match=message):
        make({}).fit(*bilingual_data["train"], **kwargs)


@pytest.mark.parametrize("grid", [[], [0.0], [-1.0, 1.0], [float("inf")], list(range(1, 30))])
def test_bad_grids_are_spec_errors(grid):
    reg = get_registry().get("encoder", "gfun")
    for field in ("C", "map_C", "meta_C"):
        with pytest.raises(ValueError, match=field):
            reg.config_model.model_validate({field: grid})


def test_groups_change_nothing_when_every_group_is_a_single_record(bilingual_data):
    """Selection is the same function with or without groups; singleton groups only re-draw the folds."""
    records, labels = bilingual_data["train"]
    enc = make({"C": [1.0, 100.0]}).fit(records, labels, groups=list(range(len(records))))
    assert set(enc.selected_["C"]) == {"en", "de"}
    assert np.mean([p == g for p, g in zip(enc.predict(bilingual_data["test"][0]), bilingual_data["test"][1])]) >= 0.9
    assert sorted(TOPICS) == enc.classes_


def test_low_resource_language_still_selected_on_its_own_documents(concept_encoder_plugin):
    en, y_en = make_corpus("en", 90, seed=7)
    de, y_de = make_corpus("de", 6, seed=8)
    enc = make({"embeddings": {"type": "test-concepts"}, "map_C": 1.0, "meta_C": 1.0}).fit(en + de, y_en + y_de)
    assert set(enc.selected_["C"]) == {"en", "de"}  # 6 German documents: 5 folds still possible


def test_a_refit_that_fails_midway_leaves_the_fitted_encoder_as_it_was(bilingual_data, concept_encoder_plugin):
    block = {"embeddings": {"type": "test-concepts"}, "aggregation": "concat", "map_C": [0.1, 10.0], "meta_C": [0.01, 1.0]}
    enc = make(block).fit(*bilingual_data["train"])
    records = bilingual_data["test"][0]
    before, selected = enc.predict_proba(records), enc.selected_

    def broken(*args, **kwargs):
        raise RuntimeError("encoder backend went away")

    enc._embedding_encoder.encode = broken  # the embeddings view fails during the next fit
    en, y_en = make_corpus("en", 30, seed=21)
    with pytest.raises(RuntimeError, match="went away"):
        enc.fit(en, y_en)
    del enc._embedding_encoder.encode
    np.testing.assert_array_equal(enc.predict_proba(records), before)
    assert enc.selected_ == selected and enc.languages_ == ["de", "en"]
