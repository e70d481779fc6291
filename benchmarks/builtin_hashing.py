"""The built-in ``hashing`` encoder and ``exact`` index against scikit-learn peers, on BEIR SciFact.

Part 1, retrieval quality and encoding speed: embedspec ``hashing`` at several dimensions; scikit-learn's
``HashingVectorizer`` configured the same way (char_wb 3-5 n-grams + word 1-2 n-grams, signed hashing,
each group L2-normalized, summed); and a fitted ``TfidfVectorizer`` (word 1-2 n-grams, sublinear tf,
IDF learned on the corpus: a peer that sees corpus statistics, which hashing does not).

Part 2, exact search speed on the same vectors: the ``exact`` index vs plain numpy (matrix product +
full argsort) vs scikit-learn ``NearestNeighbors(algorithm="brute", metric="cosine")``.

    .venv/bin/python benchmarks/builtin_hashing.py [--data ../shared/data/scifact]

Prints tables with ratios and writes ``benchmarks/results/builtin.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from embedspec.builtin.exact import ExactIndex
from embedspec.builtin.hashing import HashingEncoder
from embedspec.eval.beir import load_beir
from embedspec.eval.metrics import ndcg_at_k, recall_at_k

REPO = Path(__file__).resolve().parents[1]


def evaluate(scores: np.ndarray, doc_ids: list[str], qids: list[str], qrels: dict) -> dict[str, float]:
    top = np.argsort(-scores, axis=1, kind="stable")[:, :100]
    ranked = [[doc_ids[j] for j in row] for row in top]
    return {
        "ndcg@10": float(np.mean([ndcg_at_k(r, qrels[q], 10) for r, q in zip(ranked, qids)])),
        "recall@100": float(np.mean([recall_at_k(r, qrels[q], 100) for r, q in zip(ranked, qids)])),
    }


def sklearn_hashing(dim: int):
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.preprocessing import normalize

    chars = HashingVectorizer(n_features=dim, analyzer="char_wb", ngram_range=(3, 5), norm="l2")
    words = HashingVectorizer(n_features=dim, analyzer="word", ngram_range=(1, 2), norm="l2")
    return lambda texts: normalize(chars.transform(texts) + words.transform(texts))


def quality_rows(docs: list[str], doc_ids: list[str], queries: list[str], qids: list[str], qrels: dict) -> list[dict]:
    rows: list[dict[str, Any]] = []

    def run(name: str, encode_docs, encode_queries, dim: Any) -> None:
        t0 = time.perf_counter()
        X = encode_docs(docs)
        seconds = time.perf_counter() - t0
        Q = encode_queries(queries)
        S = Q @ X.T
        S = S.toarray() if hasattr(S, "toarray") else S
        rows.append(
            {"system": name, "dim": dim, "encode_docs_per_s": len(docs) / seconds, **evaluate(S, doc_ids, qids, qrels)}
        )
        print(f"  {name}: nDCG@10 {rows[-1]['ndcg@10']:.4f}  ({len(docs) / seconds:.0f} docs/s)", flush=True)

    for dim in (1024, 4096, 16384):
        enc = HashingEncoder(dim=dim)
        run(f"embedspec hashing dim={dim}", enc.encode, lambda t, e=enc: e.encode(t, role="query"), dim)
    for dim in (1024, 16384):
        vec = sklearn_hashing(dim)
        run(f"sklearn HashingVectorizer x2 dim={dim}", vec, vec, dim)
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    run("sklearn TfidfVectorizer (fitted)", tfidf.fit_transform, tfidf.transform, "vocab")
    rows[-1]["dim"] = len(tfidf.vocabulary_)
    return rows


def speed_rows(X: np.ndarray, Q: np.ndarray, k: int = 10, repeats: int = 3) -> list[dict]:
    from sklearn.neighbors import NearestNeighbors

    index = ExactIndex(metric="cosine")
    index.upsert(list(range(len(X))), X)
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="cosine").fit(X)

    def numpy_full_sort() -> Any:
        return np.argsort(-(Q @ X.T), axis=1)[:, :k]

    systems = {
        "embedspec exact": lambda: index.search(Q, k=k),
        "numpy matmul + argsort": numpy_full_sort,
        "sklearn NearestNeighbors brute": lambda: nn.kneighbors(Q, return_distance=True),
    }
    ref = {tuple(r) for r in numpy_full_sort().tolist()}
    got = {tuple(h.id for h in row) for row in index.search(Q, k=k)}
    assert got == ref, "exact index disagrees with numpy"
    rows = []
    for name, fn in systems.items():
        fn()  # warm
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        best = min(times)
        rows.append({"system": name, "queries_per_s": len(Q) / best, "ms_per_batch": best * 1000})
        print(f"  {name}: {len(Q) / best:.0f} queries/s", flush=True)
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:.0f}"
    return str(value)


def table(rows: list[dict], cols: list[str], ratio_col: str, base: float) -> str:
    lines = ["| system | " + " | ".join(cols) + f" | {ratio_col} vs first row |", "|" + "---|" * (len(cols) + 2)]
    for r in rows:
        lines.append(f"| {r['system']} | " + " | ".join(_cell(r[c]) for c in cols) + f" | {r[ratio_col] / base:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "builtin.json"))
    args = parser.parse_args()
    data = load_beir(args.data, split="test")
    doc_ids, docs = data.documents()
    qids, queries = data.query_items()
    print(data.summary(), flush=True)
    print("part 1: quality and encoding speed", flush=True)
    quality = quality_rows(docs, doc_ids, queries, qids, data.qrels)
    print("part 2: exact search speed (hashing dim=1024 vectors, k=10)", flush=True)
    enc = HashingEncoder(dim=1024)
    speed = speed_rows(enc.encode(docs), enc.encode(queries, role="query"))
    base_q = quality[0]["ndcg@10"]
    base_s = speed[0]["queries_per_s"]
    print()
    print(table(quality, ["dim", "ndcg@10", "recall@100", "encode_docs_per_s"], "ndcg@10", base_q))
    print()
    print(table(speed, ["queries_per_s", "ms_per_batch"], "queries_per_s", base_s))
    result = {
        "dataset": data.summary(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "numpy": np.__version__},
        "quality": quality,
        "search_speed": {"queries": len(queries), "documents": len(docs), "dim": 1024, "k": 10, "rows": speed},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
