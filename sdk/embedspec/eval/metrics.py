"""Evaluation metrics, implemented once: ranking (nDCG, recall, precision, MRR), correlation, tied ranks, F1.

Ranking metrics follow trec_eval as wrapped by ``pytrec_eval`` and used by BEIR and MTEB:

- A *run* maps query id -> {doc id: score}; *qrels* map query id -> {doc id: graded relevance}.
- Each query's retrieved documents are ranked by score, highest first; **ties are broken by doc id
  in descending string order** (trec_eval's ``comp_sim_docno``: ``strcmp(b, a)``), so equal scores
  give the same ranking on every run, whatever order the index returned them in.
- nDCG@k: gain = relevance (negative grades count as 0), discount = ``log2(rank + 1)`` for 1-based
  ranks, ideal DCG from the query's judged documents sorted by grade; a query with no positive
  judgment scores 0.
- recall@k, precision@k (divided by k, not by the number retrieved) and MRR@k count a document as
  relevant when its grade is >= 1 (trec_eval's default ``relevance_level``).
- Means are taken over the queries of the qrels (every judged query, also those whose judgments are
  all 0, as BEIR does); a judged query without any retrieved document scores 0. pytrec_eval would skip
  it instead; the two agree whenever every query was run, as in ``embedspec eval``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]

DEFAULT_RETRIEVAL_METRICS: tuple[str, ...] = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
_METRIC = re.compile(r"^(ndcg|recall|precision|mrr)@([1-9][0-9]*)$")


def rank_documents(scores: Mapping[str, float]) -> list[str]:
    """Doc ids by decreasing score; ties by decreasing doc id (trec_eval's order)."""
    return [doc for doc, _ in sorted(scores.items(), key=lambda item: (float(item[1]), item[0]), reverse=True)]


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains listed by rank (rank 1 first): sum g_i / log2(i + 1)."""
    return float(sum(g / math.log2(i + 2) for i, g in enumerate(gains)))


def ndcg_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """nDCG@k of one ranked list against one query's graded judgments."""
    ideal = sorted((max(int(r), 0) for r in judgments.values()), reverse=True)[:k]
    idcg = dcg(ideal)
    if idcg == 0.0:
        return 0.0
    return dcg([max(int(judgments.get(doc, 0)), 0) for doc in ranking[:k]]) / idcg


def recall_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (grade >= 1) found in the top k; 0 when none is relevant."""
    relevant = {doc for doc, r in judgments.items() if r >= 1}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def precision_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """Relevant documents in the top k divided by k (trec_eval ``P_k``)."""
    return sum(1 for doc in ranking[:k] if judgments.get(doc, 0) >= 1) / k


def mrr_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document within the top k, else 0."""
    for i, doc in enumerate(ranking[:k]):
        if judgments.get(doc, 0) >= 1:
            return 1.0 / (i + 1)
    return 0.0


_FUNCTIONS = {"ndcg": ndcg_at_k, "recall": recall_at_k, "precision": precision_at_k, "mrr": mrr_at_k}


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg@10"`` -> ``("ndcg", 10)``; raises ``ValueError`` naming the accepted forms."""
    match = _METRIC.match(name.strip().lower())
    if not match:
        raise ValueError(f"unknown metric {name!r}: use ndcg@K, recall@K, precision@K or mrr@K (K >= 1)")
    return match.group(1), int(match.group(2))


@dataclass
class RetrievalScores:
    """Mean of each metric over the judged queries, and the per-query values."""

    means: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(repr=False)
    num_queries: int = 0

    def __getitem__(self, metric: str) -> float:
        return self.means[metric]


def evaluate_run(
    qrels: Qrels,
    run: Run,
    metrics: Sequence[str] = DEFAULT_RETRIEVAL_METRICS,
    *,
    ignore_identical_ids: bool = True,
) -> RetrievalScores:
    """Score ``run`` against ``qrels``.

    ``ignore_identical_ids`` drops a retrieved document whose id equals the query id before ranking
    (BEIR's default: some datasets index the queries themselves).
    """
    parsed = [(m, *parse_metric(m)) for m in metrics]
    per_query: dict[str, dict[str, float]] = {}
    for qid, judgments in qrels.items():
        scores = dict(run.get(qid, {}))
        if ignore_identical_ids:
            scores.pop(qid, None)
        ranking = rank_documents(scores)
        per_query[qid] = {m: _FUNCTIONS[kind](ranking, judgments, k) for m, kind, k in parsed}
    n = len(per_query)
    means = {m: (float(np.mean([v[m] for v in per_query.values()])) if n else 0.0) for m, _, _ in parsed}
    return RetrievalScores(means=means, per_query=per_query, num_queries=n)


# ---- correlation ---------------------------------------------------------------------------
def pearson(x: Any, y: Any) -> float:
    """Pearson correlation of two 1-D samples; ``nan`` when either is constant."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"pearson needs two samples of equal length >= 2, got {a.size} and {b.size}")
    a = a - a.mean()
    b = b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b / denom) if denom > 0 else float("nan")


def average_ranks(x: Any) -> np.ndarray:
    """1-based ranks of ``x``; tied values share the mean of their ranks (``(n,) float64``)."""
    a = np.asarray(x, dtype=np.float64).ravel()
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    starts = np.flatnonzero(np.r_[True, sorted_a[1:] != sorted_a[:-1]])  # runs of equal values
    ends = np.r_[starts[1:], a.size]
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # mean of ranks start+1 .. end
    return ranks


def spearman(x: Any, y: Any) -> float:
    """Spearman rank correlation (Pearson of average ranks, like ``scipy.stats.spearmanr``)."""
    return pearson(average_ranks(x), average_ranks(y))


# ---- classification ------------------------------------------------------------------------
def f1_scores(y_true: Sequence[Any], y_pred: Sequence[Any]) -> dict[str, float]:
    """Macro-F1, micro-F1 and accuracy of single-label predictions.

    Macro-F1 averages the per-class F1 over the classes present in ``y_true`` or ``y_pred`` (a class
    with no true and no predicted example cannot occur; one with precision and recall 0 counts 0),
    as ``sklearn.metrics.f1_score(average="macro")`` does.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"got {len(y_true)} true labels for {len(y_pred)} predictions")
    if not len(y_true):
        raise ValueError("f1_scores needs at least one example")
    classes = sorted(set(y_true) | set(y_pred), key=str)
    per_class = []
    tp_sum = fp_sum = fn_sum = 0
    for c in classes:
        tp = sum(1 for t, p in zip(y_true, y_pred) if t == c and p == c)
        fp = sum(1 for t, p in zip(y_true, y_pred) if t != c and p == c)
        fn = sum(1 for t, p in zip(y_true, y_pred) if t == c and p != c)
        per_class.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        tp_sum, fp_sum, fn_sum = tp_sum + tp, fp_sum + fp, fn_sum + fn
    micro = 2 * tp_sum / (2 * tp_sum + fp_sum + fn_sum) if tp_sum else 0.0
    accuracy = sum(1 for t, p in zip(y_true, y_pred) if t == p) / len(y_true)
    return {"macro_f1": float(np.mean(per_class)), "micro_f1": float(micro), "accuracy": float(accuracy)}
