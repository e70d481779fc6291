"""Multi-vector retrieval on SciFact with all-MiniLM-L6-v2: single vector vs exact MaxSim vs MUVERA
alone vs MUVERA + MaxSim re-ranking (prefetch 50 / 100 / 200), all through the ``exact`` index.

One encoding pass of the model (``onnx-text``, fp32, ``output: tokens`` with ``keep_special: true,
normalize: false``) gives both representations exactly as the product computes them: the single
vector is the L2-normalized mean of all token states ([CLS] and [SEP] included: MiniLM's mean pooling),
the multi-vector is every state but [CLS]/[SEP], each L2-normalized (``output: tokens`` defaults). The
script checks that equivalence against the two product encoders on a few texts before using it. The
encodings are cached under ``runs/multivector/`` (rerunning skips the ~20 minutes of encoding on 2
shared cores).

Measures nDCG@10 and recall@100 on the 300 test queries (all of them), bytes per document held in
memory for search (= stored: ``exact`` keeps everything in RAM), p50 single-query search latency (the
query already encoded: the index's work only) over ``--latency-queries`` queries, and how many of exact
MaxSim's top 10 the FDE alone finds in its top 100. With re-ranking, nDCG@10 comes from a k=10 search
(``prefetch`` candidates re-ranked) and recall@100 from a k=100 search (``max(100, prefetch)``). A sweep of FDE sizes gives the FDE recall against
FDE dimension and prefetch (plot ``benchmarks/results/multivector_scifact.png``).

    python benchmarks/multivector_scifact.py                    # ~20 min encoding once, then ~5 min
    python benchmarks/multivector_scifact.py --latency-queries 50
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

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data"))
MODEL = REPO / "models" / "all-MiniLM-L6-v2"
#: (k_sim, r_reps, dim_proj) of the FDE size sweep; the main configuration is MAIN.
SWEEP = [(3, 10, 8), (4, 10, 16), (5, 20, 8), (5, 20, 16)]
MAIN = (4, 10, 16)
PREFETCH = (50, 100, 200)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latency-queries", type=int, default=100, help="queries timed one at a time (first N)")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / "multivector")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "multivector_scifact.json")
    p.add_argument("--encode-only", action="store_true", help="encode and cache, then stop")
    p.add_argument("--muvera", default=",".join(map(str, MAIN)),
                   help="k_sim,r_reps,dim_proj of the MUVERA rows (default %(default)s)")
    return p.parse_args()


def machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), [])
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "isa": [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni") if f in flags],
            "load_average": os.getloadavg()}


def raw_states(texts: list[str], role: str) -> Any:
    """All token states ([CLS]/[SEP] kept, unnormalized) of ``texts``: one model pass."""
    from embedspec_onnx import OnnxTextEncoder

    enc = OnnxTextEncoder(model=str(MODEL), device="cpu", output="tokens", keep_special=True, normalize=False)
    return enc.encode(texts, role=role)  # type: ignore[arg-type]


def split_states(raw: Any) -> tuple[np.ndarray, Any]:
    """(single vectors (n, 384) as mean pooling + L2, multi-vectors without [CLS]/[SEP], L2 per vector)."""
    from embedspec.base import l2_normalize
    from embedspec.representations import MultiVectors

    lengths = raw.lengths
    dense = l2_normalize(np.add.reduceat(raw.data, raw.offsets[:-1], axis=0) / lengths[:, None])
    keep = np.ones(raw.data.shape[0], dtype=bool)
    keep[raw.offsets[:-1]] = False  # [CLS]
    keep[raw.offsets[1:] - 1] = False  # [SEP]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths - 2, out=offsets[1:])
    return dense, MultiVectors(l2_normalize(raw.data[keep]), offsets)


def check_equivalence(texts: list[str]) -> float:
    """Max abs difference of ``split_states`` to the product encoders (pooled; tokens) on ``texts``."""
    from embedspec_onnx import OnnxTextEncoder

    dense, multi = split_states(raw_states(texts, "document"))
    pooled = OnnxTextEncoder(model=str(MODEL), device="cpu").encode(texts)
    tokens = OnnxTextEncoder(model=str(MODEL), device="cpu", output="tokens").encode(texts)
    if not np.array_equal(tokens.offsets, multi.offsets):
        raise SystemExit("token counts differ from output: tokens")
    return float(max(np.abs(dense - pooled).max(), np.abs(tokens.data - multi.data).max()))


def encoded(workdir: Path) -> dict[str, Any]:
    """Cached (or computed) encodings of the SciFact corpus and test queries."""
    from embedspec.eval.beir import load_beir
    from embedspec.representations import MultiVectors

    ds = load_beir(DATA / "scifact", split="test")
    doc_ids, doc_texts = ds.documents()
    query_ids, query_texts = ds.query_items()
    cache = workdir / "encodings.npz"
    if not cache.is_file():
        workdir.mkdir(parents=True, exist_ok=True)
        diff = check_equivalence(doc_texts[:16])
        start = time.perf_counter()
        docs = raw_states(doc_texts, "document")
        queries = raw_states(query_texts, "query")
        seconds = time.perf_counter() - start
        tmp = workdir / "encodings.tmp.npz"
        np.savez(tmp, doc_data=docs.data, doc_offsets=docs.offsets, query_data=queries.data,
                 query_offsets=queries.offsets, seconds=seconds, equivalence=diff)
        tmp.rename(cache)
    with np.load(cache) as npz:
        docs = MultiVectors(npz["doc_data"], npz["doc_offsets"])
        queries = MultiVectors(npz["query_data"], npz["query_offsets"])
        seconds, diff = float(npz["seconds"]), float(npz["equivalence"])
    doc_dense, doc_multi = split_states(docs)
    query_dense, query_multi = split_states(queries)
    return {"ds": ds, "doc_ids": doc_ids, "query_ids": query_ids, "doc_dense": doc_dense, "doc_multi": doc_multi,
            "query_dense": query_dense, "query_multi": query_multi, "encode_seconds": seconds,
            "equivalence_max_abs_diff": diff}


def evaluate(index: Any, queries: Any, data: dict[str, Any], latency_queries: int,
             prepare: Any = None, staged: bool = False) -> dict[str, Any]:
    """nDCG@10 / recall@100 over all test queries, p50 single-query latency, the top-100 ids.

    ``prepare`` (timed with the search) turns the encoder's output into what the index takes (the
    query FDE of MUVERA alone)."""
    from embedspec.eval.metrics import evaluate_run

    prepare = prepare or (lambda q: q)
    hits = index.search(prepare(queries), k=100)
    run = {qid: {h.id: h.score for h in row} for qid, row in zip(data["query_ids"], hits)}
    scores = evaluate_run(data["ds"].qrels, run, ["ndcg@10", "recall@100"])
    if staged:  # nDCG@10 from k=10 (prefetch candidates); k=100 re-ranks max(100, prefetch)
        top10 = index.search(prepare(queries), k=10)
        run10 = {qid: {h.id: h.score for h in row} for qid, row in zip(data["query_ids"], top10)}
        scores.means["ndcg@10"] = evaluate_run(data["ds"].qrels, run10, ["ndcg@10"]).means["ndcg@10"]
    times = []
    for i in range(min(latency_queries, len(queries))):
        one = queries[i : i + 1] if isinstance(queries, np.ndarray) else queries.take([i])
        start = time.perf_counter()
        index.search(prepare(one), k=10)
        times.append(time.perf_counter() - start)
    return {"ndcg@10": scores.means["ndcg@10"], "recall@100": scores.means["recall@100"],
            "p50_ms": 1000 * float(np.median(times)), "top": [[h.id for h in row] for row in hits]}


def fde_recall(data: dict[str, Any], exact_top: list[list[str]]) -> list[dict[str, Any]]:
    """For each FDE size of SWEEP: share of exact MaxSim's top 10 found in the FDE's top P."""
    from embedspec.builtin.muvera import MuveraCompressor

    position = {pid: i for i, pid in enumerate(data["doc_ids"])}
    truth = [[position[pid] for pid in row[:10]] for row in exact_top]
    rows = []
    for k_sim, r_reps, dim_proj in SWEEP:
        m = MuveraCompressor(k_sim=k_sim, r_reps=r_reps, dim_proj=dim_proj)
        start = time.perf_counter()
        docs = m.transform(data["doc_multi"])
        seconds = time.perf_counter() - start
        scores = m.transform(data["query_multi"], role="query") @ docs.T
        order = np.argsort(-scores, axis=1, kind="stable")[:, :200]
        row = {"k_sim": k_sim, "r_reps": r_reps, "dim_proj": dim_proj, "fde_dim": docs.shape[1],
               "doc_fde_seconds": round(seconds, 1)}
        for p in (10, 50, 100, 200):
            row[f"recall_top10_in_{p}"] = float(np.mean([len(set(t) & set(o[:p].tolist())) / 10
                                                         for t, o in zip(truth, order)]))
        rows.append(row)
        print(f"  FDE k_sim={k_sim} r_reps={r_reps} dim_proj={dim_proj} ({docs.shape[1]} dims): exact top-10 in "
              + ", ".join(f"top {p}: {row[f'recall_top10_in_{p}']:.3f}" for p in (10, 50, 100, 200)), flush=True)
    return rows


def run_benchmark(args: argparse.Namespace, data: dict[str, Any]) -> None:
    from embedspec.builtin.exact import ExactIndex
    from embedspec.builtin.muvera import MuveraCompressor

    info = machine()
    n_docs = len(data["doc_ids"])
    print(f"machine: {info}")
    print(f"SciFact: {n_docs} documents, {len(data['query_ids'])} test queries; token vectors: "
          f"{data['doc_multi'].data.shape[0]} ({data['doc_multi'].data.shape[0] / n_docs:.1f} per document); "
          f"encoding (cached) took {data['encode_seconds']:.0f} s; split vs product encoders max abs diff "
          f"{data['equivalence_max_abs_diff']:.2e}", flush=True)
    multi_bytes = data["doc_multi"].nbytes / n_docs
    rows: list[dict[str, Any]] = []

    def record(name: str, result: dict[str, Any], bytes_memory: float, bytes_stored: float) -> dict[str, Any]:
        row = {"pipeline": name, **{k: v for k, v in result.items() if k != "top"},
               "bytes_per_doc_memory": round(bytes_memory), "bytes_per_doc_stored": round(bytes_stored)}
        rows.append(row)
        print(f"  {name:<34} nDCG@10 {row['ndcg@10']:.4f}  recall@100 {row['recall@100']:.4f}  "
              f"p50 {row['p50_ms']:8.2f} ms  {row['bytes_per_doc_memory']:>8} B/doc", flush=True)
        return row

    single = ExactIndex(metric="cosine")
    single.upsert(data["doc_ids"], data["doc_dense"])
    record("single vector (mean pooling)", evaluate(single, data["query_dense"], data, args.latency_queries),
           1536, 1536)
    maxsim = ExactIndex(metric="cosine")
    maxsim.upsert(data["doc_ids"], data["doc_multi"])
    exact_result = evaluate(maxsim, data["query_multi"], data, args.latency_queries)
    exact_row = record("exact MaxSim", exact_result, multi_bytes, multi_bytes)
    del maxsim

    k_sim, r_reps, dim_proj = (int(v) for v in args.muvera.split(","))
    muvera = MuveraCompressor(k_sim=k_sim, r_reps=r_reps, dim_proj=dim_proj)
    fde_bytes = 4 * muvera.output_dim(384)
    alone = ExactIndex(metric="dot")
    alone.upsert(data["doc_ids"], muvera.transform(data["doc_multi"]))
    alone_result = evaluate(alone, data["query_multi"], data, args.latency_queries,
                            prepare=lambda q: muvera.transform(q, role="query"))
    record(f"MUVERA alone ({muvera.output_dim(384)}-d FDE)", alone_result, fde_bytes, fde_bytes)
    position = {pid: i for i, pid in enumerate(data["doc_ids"])}
    fde_top100 = float(np.mean([len({position[p] for p in t[:10]} & {position[p] for p in f[:100]}) / 10
                                for t, f in zip(exact_result["top"], alone_result["top"])]))
    del alone

    staged = ExactIndex(metric="cosine")
    rescoring = MuveraCompressor(k_sim=k_sim, r_reps=r_reps, dim_proj=dim_proj, rescore=True)
    staged.use_quantizer(rescoring)
    staged.upsert(data["doc_ids"], data["doc_multi"])
    staged_rows = {}
    for prefetch in PREFETCH:
        rescoring.prefetch = prefetch
        staged_rows[prefetch] = record(f"MUVERA + MaxSim re-rank (prefetch {prefetch})",
                                       evaluate(staged, data["query_multi"], data, args.latency_queries,
                                                staged=True),
                                       fde_bytes + multi_bytes, fde_bytes + multi_bytes)
    del staged

    print("FDE recall of exact MaxSim's top 10 against FDE size and prefetch:", flush=True)
    sweep = fde_recall(data, exact_result["top"])
    p100 = staged_rows[100]
    targets = {
        "rerank_p100_ndcg_ratio": p100["ndcg@10"] / exact_row["ndcg@10"],
        "rerank_p100_latency_ratio": p100["p50_ms"] / exact_row["p50_ms"],
        "fde_alone_top10_in_top100": fde_top100,
    }
    print(f"targets: MUVERA + re-rank (prefetch 100) keeps {targets['rerank_p100_ndcg_ratio']:.4f} of exact MaxSim's "
          f"nDCG@10 (target >= 0.99) at {targets['rerank_p100_latency_ratio']:.3f} of its p50 latency (target <= 0.2); "
          f"the FDE alone finds {fde_top100:.3f} of exact MaxSim's top 10 in its top 100 (target >= 0.90)")
    result = {"machine": info, "dataset": "BEIR SciFact test (5183 documents, 300 queries)",
              "model": "all-MiniLM-L6-v2 (onnx-text fp32)", "muvera": {"k_sim": k_sim, "r_reps": r_reps, "dim_proj": dim_proj},
              "latency_queries": args.latency_queries, "encode_seconds": data["encode_seconds"],
              "token_vectors_per_doc": data["doc_multi"].data.shape[0] / n_docs,
              "equivalence_max_abs_diff": data["equivalence_max_abs_diff"],
              "rows": rows, "fde_sweep": sweep, "targets": targets,
              "command": f"python benchmarks/multivector_scifact.py --latency-queries {args.latency_queries} "
                         f"--muvera {args.muvera} --out {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot(sweep, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


def plot(sweep: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for p in (10, 50, 100, 200):
        ax.plot([r["fde_dim"] for r in sweep], [r[f"recall_top10_in_{p}"] for r in sweep], marker="o",
                label=f"FDE top {p}")
    ax.set_xscale("log")
    ax.set_xlabel("FDE dimension (k_sim, r_reps, dim_proj sweep)")
    ax.set_ylabel("share of exact MaxSim's top 10 found")
    ax.set_title("SciFact, all-MiniLM-L6-v2 token vectors: MUVERA FDE recall")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    args = parse_args()
    if not (DATA / "scifact").is_dir():
        raise SystemExit(f"SciFact not found at {DATA / 'scifact'} (set EMBEDSPEC_DATA)")
    if not (MODEL / "embedspec.json").is_file():
        from embedspec_onnx.text.export import ensure_minilm

        ensure_minilm(MODEL)
    data = encoded(args.workdir)
    if args.encode_only:
        print(f"encoded in {data['encode_seconds']:.0f} s; cached in {args.workdir}")
        return
    run_benchmark(args, data)


if __name__ == "__main__":
    main()
