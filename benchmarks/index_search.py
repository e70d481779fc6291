"""Index search benchmark: qdrant-edge (HNSW; HNSW + binary quantization with rescoring), qdrant-client
local mode and the core ``exact`` index, side by side in one run.

Datasets: ``random`` (unit vectors, held-out random unit queries) and ``scifact`` (the SciFact corpus
embedded, repeated with Gaussian noise up to ``--n``; the real SciFact claims as queries). Vectors come
from ``--vectors``/``--query-vectors`` (.npy, e.g. all-MiniLM-L6-v2) or, without them, from the built-in
``hashing`` encoder. Measures build time, recall@k against exact search, single-query p50/p95 latency,
batch QPS, bytes on disk and the vector bytes that must stay in RAM.

    python benchmarks/index_search.py                      # full run (~10 min on 2 cores)
    python benchmarks/index_search.py --n 20000 --queries 300   # quick run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCIFACT = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data")) / "scifact"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000, help="vectors per dataset")
    p.add_argument("--dim", type=int, default=384, help="dimension of the random dataset (and hashing encoder)")
    p.add_argument("--queries", type=int, default=1000, help="queries for recall and batch QPS")
    p.add_argument("--latency-queries", type=int, default=300, help="queries timed one at a time")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--datasets", default="random,scifact")
    p.add_argument("--vectors", type=Path, help="SciFact corpus vectors (.npy, rows in corpus.jsonl order)")
    p.add_argument("--query-vectors", type=Path, help="SciFact query vectors (.npy, queries.jsonl order)")
    p.add_argument("--noise", type=float, default=0.02, help="per-component noise of the SciFact copies")
    p.add_argument("--model", type=Path, default=REPO / "models" / "all-MiniLM-L6-v2", help="model of `passages`")
    p.add_argument("--clusters", type=int, default=1000, help="clusters of the `clustered` dataset")
    p.add_argument("--cluster-cosine", type=float, default=0.6, help="mean cosine of a clustered point to its centre")
    p.add_argument("--ef-sweep", default="64,256,512", help="extra qdrant-edge HNSW rows at these search_ef")
    p.add_argument("--client-n", type=int, default=10_000, help="vectors for qdrant-client local mode (slow)")
    p.add_argument("--client-queries", type=int, default=100)
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / "index-search")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "index_search.json")
    p.add_argument("--merge", action="store_true", help="keep the other datasets' rows already in --out")
    p.add_argument("--resize", action="store_true", help="only re-measure disk sizes of the shards in --workdir")
    p.add_argument(
        "--recheck",
        action="store_true",
        help="only re-time single-query latency of exact vs the closed qdrant-edge shards in --workdir, back to back",
    )
    p.add_argument("--study", action="store_true",
                   help="defaults study: qdrant-edge builds (--study-configs) x search_ef vs numpy exact")
    p.add_argument("--study-configs", default="16/100,32/200", help="hnsw_m/hnsw_ef_construct builds to compare")
    p.add_argument("--study-ef", default="32,64,128,256,512", help="search_ef values (besides the default)")
    p.add_argument("--unnice-builds", action="store_true",
                   help="--study: run Qdrant's HNSW build threads at nice 0 instead of its nice 9 (shared machines)")
    p.add_argument("--study-out", type=Path, default=REPO / "benchmarks" / "results" / "index_defaults.json")
    return p.parse_args()


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def random_dataset(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(0)
    X = unit(rng.standard_normal((args.n, args.dim), dtype=np.float32))
    Q = unit(rng.standard_normal((args.queries, args.dim), dtype=np.float32))
    return X, Q, f"random unit vectors, dim {args.dim}; queries: held-out random unit vectors"


def scifact_dataset(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    if args.vectors is not None:
        base = np.load(args.vectors).astype(np.float32)
        if args.query_vectors is None:
            raise SystemExit("--vectors needs --query-vectors (the SciFact claims embedded by the same model)")
        queries = np.load(args.query_vectors).astype(np.float32)
        source = f"{args.vectors.name} / {args.query_vectors.name}"
    else:
        from embedspec.builtin.hashing import HashingEncoder

        if not SCIFACT.is_dir():
            raise SystemExit(f"SciFact not found at {SCIFACT} (set EMBEDSPEC_DATA)")
        docs = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open(encoding="utf-8")]
        claims = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").open(encoding="utf-8")]
        encoder = HashingEncoder(dim=args.dim)
        base = encoder.encode([(d.get("title", "") + " " + d.get("text", "")).strip() for d in docs])
        queries = encoder.encode(claims, role="query")
        source = f"built-in hashing encoder (dim {args.dim}); the ONNX MiniLM vectors were not given"
    rng = np.random.default_rng(1)
    rows = np.arange(args.n) % len(base)
    X = unit(base[rows] + args.noise * rng.standard_normal((args.n, base.shape[1]), dtype=np.float32))
    Q = unit(queries[np.arange(args.queries) % len(queries)])
    desc = f"SciFact corpus x{args.n / len(base):.1f} with noise {args.noise} ({source}); queries: SciFact claims"
    return X, Q, desc


SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")


def passage_texts(n: int) -> list[str]:
    """Up to ``n`` distinct real passages from SciFact: titles, sentences (>= 3 words), and windows of 2
    and 3 consecutive sentences of each abstract (a seeded sample when there are more than ``n``)."""
    docs = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open(encoding="utf-8")]
    seen: dict[str, None] = {}
    for d in docs:
        sentences = [s for s in SENTENCE_END.split(d.get("text", "")) if len(s.split()) >= 3]
        seen.setdefault(d.get("title", "").strip(), None)
        for width in (1, 2, 3):
            for i in range(len(sentences) - width + 1):
                seen.setdefault(" ".join(sentences[i : i + width]), None)
    texts = [t for t in seen if t]
    if len(texts) > n:
        keep = np.sort(np.random.default_rng(2).choice(len(texts), n, replace=False))
        texts = [texts[i] for i in keep]
    return texts


def passages_dataset(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    """Real embeddings, no copies: SciFact passages (``passage_texts``) and the SciFact claims as queries,
    embedded once by the ONNX all-MiniLM-L6-v2 (``--model``, fp32) and cached under ``--workdir``."""
    from embedspec_onnx.text.encoder import OnnxTextEncoder

    cache = args.workdir / f"passages-{args.n}.npz"
    if not cache.is_file():
        if not SCIFACT.is_dir():
            raise SystemExit(f"SciFact not found at {SCIFACT} (set EMBEDSPEC_DATA)")
        texts = passage_texts(args.n)
        claims = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").open(encoding="utf-8")]
        encoder = OnnxTextEncoder(model=str(args.model), device="cpu")
        t = time.perf_counter()
        X = encoder.encode(texts, batch_size=64)
        Q = encoder.encode(claims, role="query", batch_size=64)
        print(f"  embedded {len(texts):,} passages + {len(claims):,} claims in {time.perf_counter() - t:.0f} s")
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, X=X, Q=Q)
    with np.load(cache) as data:
        X, Q = data["X"].astype(np.float32), data["Q"].astype(np.float32)
    Q = Q[np.arange(args.queries) % len(Q)]
    return X, Q, (f"{len(X):,} distinct SciFact passages (titles, sentences, 2- and 3-sentence windows) embedded by "
                  f"all-MiniLM-L6-v2 (onnx-text fp32, {args.model}); queries: SciFact claims, same model")


def clustered_dataset(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    """``--clusters`` Gaussian clusters of unit vectors: each point is its centre plus isotropic noise whose
    expected cosine to the centre is ``--cluster-cosine``; queries are held-out points of the same mixture."""
    rng = np.random.default_rng(3)
    centres = unit(rng.standard_normal((args.clusters, args.dim), dtype=np.float32))
    sigma = float(np.sqrt((1 / args.cluster_cosine**2 - 1) / args.dim))

    def draw(m: int) -> np.ndarray:
        labels = rng.integers(args.clusters, size=m)
        return unit(centres[labels] + sigma * rng.standard_normal((m, args.dim), dtype=np.float32))

    X, Q = draw(args.n), draw(args.queries)
    return X, Q, (f"{args.clusters:,} Gaussian clusters in {args.dim} dims, cosine to the centre "
                  f"{args.cluster_cosine} (sigma {sigma:.4f} per component); queries: held-out points of the mixture")


def ground_truth(X: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    """``(len(Q), k)`` row indices of the exact top-k by cosine (rows of X and Q are unit vectors)."""
    out = []
    for start in range(0, len(Q), 256):
        s = Q[start : start + 256] @ X.T
        top = np.argpartition(-s, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, top, axis=1), axis=1)
        out.append(np.take_along_axis(top, order, axis=1))
    return np.concatenate(out)


def dir_bytes(path: Path) -> int:
    """Bytes allocated on disk under ``path`` (sparse, preallocated files count what they use)."""
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def qdrant_parts(path: Path) -> dict[str, int]:
    """Bytes of a shard's float vectors, quantized vectors, HNSW graphs (all segments) and WAL."""
    parts = {"float_vectors": 0, "quantized": 0, "hnsw_graph": 0, "wal": dir_bytes(path / "wal")}
    for seg in (path / "segments").glob("*"):
        store = seg / "vector_storage"
        parts["float_vectors"] += dir_bytes(store / "vectors") + dir_bytes(store / "matrix.dat")
        parts["quantized"] += dir_bytes(store / "quantized_data") + dir_bytes(store / "quantized.data")
        parts["hnsw_graph"] += dir_bytes(seg / "vector_index")
    return parts


def measure(index: Any, Q: np.ndarray, truth: np.ndarray, k: int, latency_queries: int) -> dict[str, float]:
    lat = []
    for q in Q[:latency_queries]:
        t = time.perf_counter()
        index.search(q[None, :], k=k)
        lat.append(time.perf_counter() - t)
    t = time.perf_counter()
    hits = index.search(Q, k=k)
    batch_s = time.perf_counter() - t
    recall = np.mean([len({h.id for h in row} & set(tr.tolist())) / k for row, tr in zip(hits, truth)])
    return {
        "recall_at_k": round(float(recall), 4),
        "p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 3),
        "p95_ms": round(float(np.percentile(lat, 95)) * 1e3, 3),
        "batch_qps": round(len(Q) / batch_s, 1),
    }


def unnice_builders(stop: threading.Event) -> None:
    """Qdrant runs its HNSW build threads at nice 9; on a shared machine they then get a sliver of the CPU.
    Until ``stop``, put this process's ``hnsw-build-*`` threads back at nice 0 (Linux; needs the right)."""
    while not stop.wait(0.5):
        for task in Path(f"/proc/{os.getpid()}/task").glob("*"):
            try:
                if (task / "comm").read_text().startswith("hnsw-build") and os.getpriority(os.PRIO_PROCESS, int(task.name)) > 0:
                    os.setpriority(os.PRIO_PROCESS, int(task.name), 0)
            except OSError:
                continue


def build(index: Any, X: np.ndarray, finish: Callable[[], Any]) -> dict[str, float]:
    t = time.perf_counter()
    for start in range(0, len(X), 20_000):
        index.upsert(list(range(start, min(len(X), start + 20_000))), X[start : start + 20_000])
    upsert_s = time.perf_counter() - t
    finish()
    return {"upsert_s": round(upsert_s, 2), "build_s": round(time.perf_counter() - t, 2)}


#: (label, folder, QdrantEdgeIndex options, how many of the --ef-sweep values to add as rows)
EDGE_VARIANTS: list[tuple[str, str, dict[str, Any], int]] = [
    ("qdrant-edge HNSW", "edge-hnsw", {}, 3),
    (
        "qdrant-edge HNSW + binary 1-bit x4",
        "edge-bq",
        {"quantization": "binary", "quantization_oversampling": 4.0, "on_disk": True},
        1,
    ),
    (
        "qdrant-edge HNSW + binary 2-bit, 8-bit queries x8",
        "edge-bq2",
        {
            "quantization": "binary",
            "quantization_oversampling": 8.0,
            "binary_encoding": "two_bits",
            "binary_query_encoding": "scalar8bits",
            "on_disk": True,
        },
        1,
    ),
]


def run_dataset(name: str, X: np.ndarray, Q: np.ndarray, args: argparse.Namespace) -> list[dict[str, Any]]:
    from embedspec.builtin.binary import BinaryQuantizer
    from embedspec.builtin.exact import ExactIndex
    from embedspec_qdrant.client import QdrantIndex
    from embedspec_qdrant.edge import QdrantEdgeIndex

    k, work = args.k, args.workdir / name
    shutil.rmtree(work, ignore_errors=True)
    truth = ground_truth(X, Q, k)
    rows: list[dict[str, Any]] = []
    float_bytes = X.nbytes

    def record(label: str, n: int, stats: dict[str, Any], path: Path | None, resident: int, **extra: Any) -> None:
        row = {"dataset": name, "index": label, "n": n, **stats, "disk_bytes": dir_bytes(path) if path else 0}
        row.update(resident_vector_bytes=resident, **extra)
        rows.append(row)
        print(f"  {label:<52} " + ", ".join(f"{k2}={v}" for k2, v in row.items() if k2 not in ("dataset", "index")))

    exact = ExactIndex(path=str(work / "exact"), metric="cosine")
    stats = build(exact, X, exact.flush)
    stats |= measure(exact, Q, truth, k, args.latency_queries)
    exact.close()
    record("exact", len(X), stats, work / "exact", float_bytes)

    sweep = [int(e) for e in args.ef_sweep.split(",") if e]
    for label, folder, options, efs in EDGE_VARIANTS:
        edge = QdrantEdgeIndex(path=str(work / folder), **options)
        if options.get("quantization") is None:
            stats = build(edge, X, edge.optimize)
        else:  # through the core quantizer, as a pipeline whose last compressor is `binary` does
            edge.quantization = None
            edge.use_quantizer(BinaryQuantizer(rescore=True, oversampling=options["quantization_oversampling"]))
            stats = build(edge, X, edge.optimize)
        stats |= measure(edge, Q, truth, k, args.latency_queries)
        quantized = options.get("quantization") is not None
        extra = {"originals": "on disk (memory-mapped), read for rescoring"} if quantized else {}
        ef_rows = []
        for ef in sweep[-efs:] if efs else []:
            edge.search_ef = ef
            ef_rows.append((ef, measure(edge, Q, truth, k, args.latency_queries)))
        edge.close()  # sizes after close: the WAL is trimmed and the emptied appendable segment released
        parts = qdrant_parts(work / folder)
        resident = parts["hnsw_graph"] + (parts["quantized"] if quantized else parts["float_vectors"])
        record(label, len(X), stats, work / folder, resident, parts=parts, options=options, **extra)
        for ef, ef_stats in ef_rows:
            record(f"{label} search_ef={ef}", len(X), ef_stats, None, resident)

    n_c = min(args.client_n, len(X))
    Xc, Qc = X[:n_c], Q[: args.client_queries]
    client = QdrantIndex(location=":memory:", batch_size=1024)
    stats = build(client, Xc, lambda: None)
    stats |= measure(client, Qc, ground_truth(Xc, Qc, k), k, min(args.latency_queries, 50))
    client.close()
    record(
        "qdrant-client local mode (:memory:)",
        n_c,
        stats,
        None,
        Xc.nbytes,
        note=f"brute force in Python; run at n={n_c}, {len(Qc)} queries",
    )
    return rows


def numpy_exact(X: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    """The exact baseline of ``--study``: one matrix-vector product and ``argpartition`` (top ``k`` rows)."""
    s = X @ q
    top = np.argpartition(-s, k)[:k]
    return top[np.argsort(-s[top])]


def study_dataset(name: str, X: np.ndarray, Q: np.ndarray, args: argparse.Namespace) -> list[dict[str, Any]]:
    """qdrant-edge per (hnsw_m, hnsw_ef_construct) build and ``search_ef``: recall@k (all queries, one batch)
    and single-query latency; numpy exact and every ``search_ef`` take turns on blocks of 20 queries (in a
    rotating order, so the load of a shared machine and the cache left by the others fall on all alike)."""
    from embedspec_qdrant.edge import QdrantEdgeIndex

    k = args.k
    truth = ground_truth(X, Q, k)
    stop = threading.Event()
    if args.unnice_builds:
        threading.Thread(target=unnice_builders, args=(stop,), daemon=True).start()
    efs: list[int | None] = [None, *(int(e) for e in args.study_ef.split(",") if e)]
    rows: list[dict[str, Any]] = []
    try:
        for config in [c for c in args.study_configs.split(",") if c]:
            m, ef_construct = (int(v) for v in config.split("/"))
            path = args.workdir / name / f"study-m{m}-ef{ef_construct}"
            shutil.rmtree(path, ignore_errors=True)
            edge = QdrantEdgeIndex(path=str(path), hnsw_m=m, hnsw_ef_construct=ef_construct)
            built = build(edge, X, edge.optimize)
            recall = {}
            for ef in efs:
                edge.search_ef = ef
                hits = edge.search(Q, k=k)
                recall[ef] = float(np.mean([len({h.id for h in row} & set(t.tolist())) / k for row, t in zip(hits, truth)]))
            timings: dict[Any, list[float]] = {ef: [] for ef in ["exact", *efs]}
            order: list[Any] = ["exact", *efs]
            latency_q = Q[: args.latency_queries]
            for block, start in enumerate(range(0, len(latency_q), 20)):  # blocks of 20 queries per setting,
                rotated = order[block % len(order):] + order[: block % len(order)]  # in a rotating order
                for setting in rotated:
                    if setting != "exact":
                        edge.search_ef = setting
                    for q in latency_q[start : start + 20]:
                        t = time.perf_counter()
                        if setting == "exact":
                            numpy_exact(X, q, k)
                        else:
                            edge.search(q[None, :], k=k)
                        timings[setting].append(time.perf_counter() - t)
            edge.close()
            exact_p50 = float(np.percentile(timings["exact"], 50))
            for ef in efs:
                p50 = float(np.percentile(timings[ef], 50))
                row = {"dataset": name, "hnsw_m": m, "hnsw_ef_construct": ef_construct,
                       "search_ef": ef if ef is not None else "default", "n": len(X), **built,
                       "recall_at_k": round(recall[ef], 4), "p50_ms": round(p50 * 1e3, 3),
                       "p95_ms": round(float(np.percentile(timings[ef], 95)) * 1e3, 3),
                       "exact_p50_ms": round(exact_p50 * 1e3, 3), "speedup_vs_exact": round(exact_p50 / p50, 1),
                       "load_average": round(os.getloadavg()[0], 2)}
                rows.append(row)
                print(f"  m={m:<3} ef_construct={ef_construct:<4} search_ef={row['search_ef']!s:<8} "
                      f"build {built['build_s']:>6.1f} s  recall@{k} {row['recall_at_k']:.4f}  p50 {row['p50_ms']:.3f} ms "
                      f"(exact {row['exact_p50_ms']:.2f} ms: {row['speedup_vs_exact']}x)", flush=True)
    finally:
        stop.set()
    return rows


def study(args: argparse.Namespace) -> None:
    """``--study``: the defaults study (recall@k and speed-up over numpy exact per build and search_ef)."""
    from embedspec.machine import cpu_info, cpu_line

    started = time.time()
    makers = {"clustered": clustered_dataset, "passages": passages_dataset, "random": random_dataset,
              "scifact": scifact_dataset}
    print(f"CPU: {cpu_line()}")
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "machine": machine(),
                               "cpu": cpu_info(), "datasets": {}, "rows": []}
    for name in [d for d in args.datasets.split(",") if d]:
        X, Q, desc = makers[name](args)
        print(f"== {name}: {desc}; n={len(X)}, dim={X.shape[1]}, queries={len(Q)}", flush=True)
        results["datasets"][name] = desc
        results["rows"] += study_dataset(name, X, Q, args)
        results["wall_s"] = round(time.time() - started, 1)
        if args.merge and args.study_out.is_file():  # keep the other datasets' rows already there
            old = json.loads(args.study_out.read_text(encoding="utf-8"))
            kept = [r for r in old["rows"] if r["dataset"] not in results["datasets"]]
            results["rows"] = kept + [r for r in results["rows"] if r not in kept]
            results["datasets"] = {**{r["dataset"]: old["datasets"][r["dataset"]] for r in kept}, **results["datasets"]}
        args.study_out.parent.mkdir(parents=True, exist_ok=True)
        args.study_out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.study_out} (wall {results['wall_s']} s)", flush=True)


def machine() -> dict[str, Any]:
    import importlib.metadata as md

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "qdrant-edge-py": md.version("qdrant-edge-py"),
        "qdrant-client": md.version("qdrant-client"),
        "numpy": np.__version__,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'dataset':<8} {'index':<58} {'n':>7} {'build s':>8} {'recall':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p50/exact':>9} {'QPS':>8} {'disk MB':>8} {'RAM vec MB':>10} {'RAM/exact':>9}"
    )
    print(head)
    for r in rows:
        ref = next(x for x in rows if x["dataset"] == r["dataset"] and x["index"] == "exact")
        print(
            f"{r['dataset']:<8} {r['index']:<58} {r['n']:>7} {r.get('build_s', float('nan')):>8} "
            f"{r['recall_at_k']:>7.3f} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['p50_ms'] / ref['p50_ms']:>9.3f} "
            f"{r['batch_qps']:>8.0f} {r['disk_bytes'] / 2**20:>8.1f} {r['resident_vector_bytes'] / 2**20:>10.1f} "
            f"{r['resident_vector_bytes'] / ref['resident_vector_bytes']:>9.3f}"
        )


def resize(args: argparse.Namespace) -> None:
    """Re-measure ``disk_bytes`` / ``parts`` of qdrant-edge rows from the closed shards in ``--workdir``."""
    results = json.loads(args.out.read_text(encoding="utf-8"))
    folders = {label: folder for label, folder, _, _ in EDGE_VARIANTS}
    for row in results["rows"]:
        folder = folders.get(row["index"])
        if folder is None:
            continue
        path = args.workdir / row["dataset"] / folder
        parts = qdrant_parts(path)
        quantized = row.get("options", {}).get("quantization") is not None
        resident = parts["hnsw_graph"] + (parts["quantized"] if quantized else parts["float_vectors"])
        row.update(disk_bytes=dir_bytes(path), parts=parts, resident_vector_bytes=resident)
        for other in results["rows"]:
            if other["dataset"] == row["dataset"] and other["index"].startswith(row["index"] + " search_ef="):
                other["resident_vector_bytes"] = resident
    results["resized_after_close"] = True
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(results["rows"])


def recheck(args: argparse.Namespace) -> None:
    """Single-query p50/p95 of ``exact`` and each closed qdrant-edge shard, timed back to back now."""
    from embedspec.builtin.exact import ExactIndex
    from embedspec_qdrant.edge import QdrantEdgeIndex

    results = json.loads(args.out.read_text(encoding="utf-8"))
    makers = {"random": random_dataset, "scifact": scifact_dataset}
    out = []
    for name in [d for d in args.datasets.split(",") if d]:
        X, Q, _ = makers[name](args)
        truth = ground_truth(X, Q[: args.latency_queries], args.k)
        exact = ExactIndex(metric="cosine")
        exact.upsert(list(range(len(X))), X)
        indexes = [("exact", exact)] + [
            (label, QdrantEdgeIndex(path=str(args.workdir / name / folder))) for label, folder, _, _ in EDGE_VARIANTS
        ]
        for label, index in indexes:
            stats = measure(index, Q[: args.latency_queries], truth, args.k, args.latency_queries)
            index.close()
            out.append({"dataset": name, "index": label, "p50_ms": stats["p50_ms"], "p95_ms": stats["p95_ms"]})
            print(f"{name:<8} {label:<52} p50 {stats['p50_ms']:>8.2f} ms  p95 {stats['p95_ms']:>8.2f} ms")
    results["latency_recheck"] = {"rows": out, "load_average": os.getloadavg()}
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    args = parse_args()
    if args.recheck:
        recheck(args)
        return
    if args.study:
        study(args)
        return
    if args.resize:
        resize(args)
        return
    started = time.time()
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "machine": machine(), "datasets": {}}
    rows: list[dict[str, Any]] = []
    makers = {"random": random_dataset, "scifact": scifact_dataset}
    for name in [d for d in args.datasets.split(",") if d]:
        X, Q, desc = makers[name](args)
        print(f"== {name}: {desc}; n={len(X)}, dim={X.shape[1]}, queries={len(Q)}")
        results["datasets"][name] = desc
        rows += run_dataset(name, X, Q, args)
    if args.merge and args.out.is_file():
        old = json.loads(args.out.read_text(encoding="utf-8"))
        kept = [r for r in old["rows"] if r["dataset"] not in results["datasets"]]
        rows = kept + rows
        results["datasets"] = {**{r["dataset"]: old["datasets"][r["dataset"]] for r in kept}, **results["datasets"]}
        results["earlier_runs"] = old.get("earlier_runs", []) + [{k: old[k] for k in ("args", "wall_s")}]
    results["rows"] = rows
    results["wall_s"] = round(time.time() - started, 1)
    print()
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out} (wall {results['wall_s']} s)")


if __name__ == "__main__":
    main()
