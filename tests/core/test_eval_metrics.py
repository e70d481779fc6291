"""Metrics against hand-computed values, and against pytrec_eval / scipy / scikit-learn when installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from embedspec.eval.metrics import (
    average_ranks,
    dcg,
    evaluate_run,
    f1_scores,
    mrr_at_k,
    ndcg_at_k,
    parse_metric,
    pearson,
    precision_at_k,
    rank_documents,
    recall_at_k,
    spearman,
)

L2, L3, L4 = math.log2(3), 2.0, math.log2(5)  # discounts of ranks 2, 3, 4 (rank 1: log2(2) = 1)


def test_ties_break_by_decreasing_doc_id():
    assert rank_documents({"a": 0.5, "b": 0.5, "c": 0.9, "d": 0.1}) == ["c", "b", "a", "d"]
    # insertion order does not matter
    assert rank_documents({"b": 0.5, "a": 0.5}) == rank_documents({"a": 0.5, "b": 0.5}) == ["b", "a"]
    # string order, not numeric: "9" > "10"
    assert rank_documents({"10": 1.0, "9": 1.0}) == ["9", "10"]


def test_ndcg_with_tie_by_hand():
    qrels = {"a": 1, "c": 2}
    # scores a=b=0.5 (tie: b before a), c=0.1 -> ranking b, a, c -> gains 0, 1, 2
    ranking = rank_documents({"a": 0.5, "b": 0.5, "c": 0.1})
    idcg = 2 + 1 / L2
    assert ndcg_at_k(ranking, qrels, 10) == pytest.approx((1 / L2 + 2 / L3) / idcg)
    assert ndcg_at_k(ranking, qrels, 2) == pytest.approx((1 / L2) / idcg)
    assert ndcg_at_k(ranking, qrels, 1) == 0.0


def test_ndcg_graded_and_several_relevant():
    qrels = {"d1": 3, "d2": 2, "d3": 3, "d4": 0, "d5": 1}
    ranking = ["d2", "d4", "d1", "x", "d5"]
    got = ndcg_at_k(ranking, qrels, 5)
    dcg_ = 2 + 0 / L2 + 3 / L3 + 0 / L4 + 1 / math.log2(6)
    idcg = 3 + 3 / L2 + 2 / L3 + 1 / L4
    assert got == pytest.approx(dcg_ / idcg)
    assert dcg([3, 2]) == pytest.approx(3 + 2 / L2)
    # ideal ranking scores 1; perfect ranking cut at k uses ideal cut at k
    assert ndcg_at_k(["d1", "d3", "d2", "d5"], qrels, 2) == pytest.approx(1.0)
    # negative grades count as zero gain
    assert ndcg_at_k(["bad", "good"], {"bad": -1, "good": 2}, 2) == pytest.approx((2 / L2) / 2)
    # no positive judgment -> 0
    assert ndcg_at_k(["d4"], {"d4": 0}, 10) == 0.0


def test_recall_precision_mrr():
    qrels = {"a": 1, "b": 2, "c": 1, "z": 0}
    ranking = ["z", "b", "q", "a"]
    assert recall_at_k(ranking, qrels, 1) == 0.0
    assert recall_at_k(ranking, qrels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, qrels, 100) == pytest.approx(2 / 3)
    assert precision_at_k(ranking, qrels, 2) == pytest.approx(0.5)
    assert precision_at_k(ranking, qrels, 10) == pytest.approx(0.2)  # divided by k, not by 4
    assert mrr_at_k(ranking, qrels, 10) == pytest.approx(0.5)
    assert mrr_at_k(ranking, qrels, 1) == 0.0
    assert recall_at_k(ranking, {"z": 0}, 10) == 0.0


def test_evaluate_run_means_missing_queries_and_identical_ids():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}, "q3": {"x": 1}}
    run = {
        "q1": {"q1": 0.99, "a": 0.9, "b": 0.1},  # the query itself is retrieved first
        "q2": {"c": 0.5, "b": 0.5, "a": 0.7},
        "q9": {"a": 1.0},  # not judged: ignored
    }
    res = evaluate_run(qrels, run, ["ndcg@10", "recall@1", "mrr@10"])
    assert res.num_queries == 3
    assert res.per_query["q1"] == {"ndcg@10": 1.0, "recall@1": 1.0, "mrr@10": 1.0}
    q2_ndcg = (1 / L2 + 1 / L3) / (1 + 1 / L2)  # ranking a, c, b
    assert res.per_query["q2"]["ndcg@10"] == pytest.approx(q2_ndcg)
    assert res.per_query["q2"]["mrr@10"] == pytest.approx(0.5)
    assert res.per_query["q3"] == {"ndcg@10": 0.0, "recall@1": 0.0, "mrr@10": 0.0}
    assert res["ndcg@10"] == pytest.approx((1 + q2_ndcg + 0) / 3)
    kept = evaluate_run(qrels, run, ["mrr@10"], ignore_identical_ids=False)
    assert kept.per_query["q1"]["mrr@10"] == pytest.approx(0.5)


def test_parse_metric_errors():
    assert parse_metric("NDCG@10") == ("ndcg", 10)
    with pytest.raises(ValueError, match="unknown metric 'map@10'"):
        parse_metric("map@10")
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric("recall@0")


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    docs = [f"d{i}" for i in range(60)]
    qrels, run = {}, {}
    for q in range(40):
        judged = rng.choice(docs, size=rng.integers(1, 8), replace=False)
        qrels[f"q{q}"] = {d: int(rng.integers(0, 4)) for d in judged}
        retrieved = rng.choice(docs, size=30, replace=False)
        # coarse scores so that ties are frequent
        run[f"q{q}"] = {d: float(rng.integers(0, 6)) / 5 for d in retrieved}
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_pytrec_eval_reference(seed):
    pytrec_eval = pytest.importorskip(
        "pytrec_eval", reason="optional reference: pip install pytrec-eval-terrier"
    )
    qrels, run = _random_case(seed)
    ours = evaluate_run(qrels, run, ["ndcg@10", "ndcg@3", "recall@10", "recall@100", "precision@5"])
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.3,10", "recall.10,100", "P.5", "recip_rank"})
    got = ref.evaluate(run)
    names = {"ndcg@10": "ndcg_cut_10", "ndcg@3": "ndcg_cut_3", "recall@10": "recall_10",
             "recall@100": "recall_100", "precision@5": "P_5"}
    for qid in qrels:
        for ours_name, ref_name in names.items():
            assert ours.per_query[qid][ours_name] == pytest.approx(got[qid][ref_name], abs=1e-12), (qid, ours_name)
        # recip_rank over the whole ranking = our MRR with k >= number retrieved
        assert evaluate_run({qid: qrels[qid]}, run, ["mrr@1000"])["mrr@1000"] == pytest.approx(
            got[qid]["recip_rank"], abs=1e-12
        )


def test_pearson_spearman_by_hand_and_against_scipy():
    x = [1, 2, 3, 4, 5]
    assert pearson(x, [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    assert pearson(x, [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman(x, [1, 4, 9, 16, 25]) == pytest.approx(1.0)
    np.testing.assert_allclose(average_ranks([10, 20, 20, 5]), [2, 3.5, 3.5, 1])
    # Spearman with ties by hand: ranks x = [1, 2.5, 2.5, 4], y = [1, 2, 3, 4]
    rx, ry = np.array([1, 2.5, 2.5, 4]), np.array([1, 2, 3, 4.0])
    expected = ((rx - rx.mean()) @ (ry - ry.mean())) / math.sqrt(((rx - rx.mean()) ** 2).sum() * ((ry - ry.mean()) ** 2).sum())
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(expected)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="equal length"):
        pearson([1, 2], [1, 2, 3])
    stats = pytest.importorskip("scipy.stats", reason="optional reference: scipy")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 200).astype(float)  # many ties
    b = a + rng.normal(0, 2, 200)
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert pearson(a, b) == pytest.approx(stats.pearsonr(a, b).statistic, abs=1e-12)


def test_f1_by_hand_and_against_sklearn():
    y_true = ["a", "a", "b", "b", "c", "c"]
    y_pred = ["a", "b", "b", "b", "a", "d"]
    # a: tp1 fp1 fn1 -> 0.5 ; b: tp2 fp1 fn0 -> 0.8 ; c: tp0 -> 0 ; d: tp0 -> 0
    got = f1_scores(y_true, y_pred)
    assert got["macro_f1"] == pytest.approx((0.5 + 0.8 + 0 + 0) / 4)
    assert got["micro_f1"] == pytest.approx(3 / 6) == got["accuracy"]
    with pytest.raises(ValueError, match="2 true labels for 1"):
        f1_scores(["a", "b"], ["a"])
    metrics = pytest.importorskip("sklearn.metrics", reason="optional reference: scikit-learn")
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 6, 300).tolist(), rng.integers(0, 7, 300).tolist()
    ours = f1_scores(t, p)
    assert ours["macro_f1"] == pytest.approx(metrics.f1_score(t, p, average="macro"))
    assert ours["micro_f1"] == pytest.approx(metrics.f1_score(t, p, average="micro"))
