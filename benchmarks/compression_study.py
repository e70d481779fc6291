"""Compression study on a BEIR split: one encoder, many compressor chains and indexes, side by side.

The encoder runs once: its document and query vectors are cached (``EmbeddingCache``, optionally on
disk with ``--cache``) and every row re-runs only its compressors and index. Rows: float32;
Matryoshka truncation to 256/128/64; int8; binary without and with float rescoring; product
quantization at dim/4 and dim/8 bytes; and, when the ``qdrant-edge`` index is installed, Qdrant Edge
with float vectors and with its native binary quantization.

    python benchmarks/compression_study.py                       # MiniLM ONNX from models/all-MiniLM-L6-v2
    python benchmarks/compression_study.py --encoder '{"type": "hashing", "dim": 384}' --limit-queries 50

Writes ``<out>/<name>.md``, ``.json`` and ``.png`` (quality vs bytes per vector with the Pareto front,
quality vs query latency).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ENCODER = {"type": "onnx-text", "model": "models/all-MiniLM-L6-v2"}


def study_specs(encoder: dict[str, Any], dim: int, workdir: Path, qdrant: bool) -> list[tuple[str, dict[str, Any]]]:
    """``(label, spec)`` rows of the study for an encoder producing ``dim``-dimensional vectors."""
    def spec(compressors: list[dict[str, Any]], index: dict[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"version": 1, "encoder": encoder}
        if compressors:
            out["compressors"] = compressors
        out["index"] = index or {"type": "exact"}
        return out

    rows = [("float32", spec([]))]
    rows += [(f"matryoshka-{d}", spec([{"type": "matryoshka", "dim": d}])) for d in (256, 128, 64) if d < dim]
    rows += [
        ("int8", spec([{"type": "int8"}])),
        ("binary", spec([{"type": "binary", "rescore": False}])),
        ("binary+rescore", spec([{"type": "binary", "rescore": True, "oversampling": 4.0}])),
    ]
    for m in (dim // 4, dim // 8):
        if m >= 1 and dim % m == 0:
            rows.append((f"pq-{m}B", spec([{"type": "pq", "m": m, "rescore": False}])))
    if qdrant:
        rows += [
            ("qdrant-edge", spec([], {"type": "qdrant-edge", "path": str(workdir / "qdrant-float")})),
            ("qdrant-edge-binary", spec([{"type": "binary", "rescore": True, "oversampling": 4.0}],
                                        {"type": "qdrant-edge", "path": str(workdir / "qdrant-binary")})),
        ]
    return rows


def pytrec_eval_check(results: list[Any], qrels: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """The same runs scored by pytrec_eval (trec_eval), the reference BEIR uses; [] when not installed."""
    try:
        import pytrec_eval
    except ImportError:
        print("pytrec_eval not installed (pip install pytrec-eval-terrier): reference check skipped", file=sys.stderr)
        return []
    rows = []
    for r in results:
        run = {q: {d: s for d, s in docs.items() if d != q} for q, docs in r.run.items()}  # ignore_identical_ids
        per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
        ndcg = sum(v["ndcg_cut_10"] for v in per_query.values()) / len(qrels)
        recall = sum(v["recall_100"] for v in per_query.values()) / len(qrels)
        rows.append({"label": r.label, "ndcg@10": ndcg, "recall@100": recall,
                     "ndcg@10 diff": r.metrics["ndcg@10"] - ndcg, "recall@100 diff": r.metrics["recall@100"] - recall})
    return rows


def _encoder_block(value: str | None) -> dict[str, Any]:
    if value is None:
        block = dict(DEFAULT_ENCODER)
        model = REPO / block["model"]
        if not model.is_dir():
            sys.exit(f"error: the default encoder needs the ONNX model folder {model} (export it with the "
                     "embedspec-onnx plugin), or pass --encoder '{\"type\": \"hashing\", \"dim\": 384}'")
        block["model"] = str(model)
        return block
    path = Path(value)
    block = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else yaml.safe_load(value)
    if isinstance(block, dict) and "encoder" in block:  # a whole spec: take its encoder block
        block = block["encoder"]
    if not isinstance(block, dict) or "type" not in block:
        sys.exit(f"error: --encoder must be an encoder block with a `type` (YAML/JSON text or file), got {value!r}")
    return block


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", help="encoder block (YAML/JSON text, or a spec file); default: MiniLM ONNX")
    parser.add_argument("--beir", default=str(REPO.parent / "shared" / "data" / "scifact"), help="BEIR folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit-queries", type=int)
    parser.add_argument("--cache", help="folder keeping the encoder's vectors between runs")
    parser.add_argument("--no-qdrant", action="store_true", help="skip the qdrant-edge rows")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--name", default="compression_study")
    parser.add_argument("--blas-threads", default="1",
                        help="OpenBLAS/OpenMP threads for numpy search (default 1: on a busy machine, threaded "
                             "BLAS made single-query exact search ~20x slower); 'auto' leaves them alone")
    args = parser.parse_args(argv)
    if args.blas_threads != "auto":  # before numpy is imported
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, args.blas_threads)

    from embedspec.eval.beir import load_beir
    from embedspec.eval.compare import compare_specs, markdown_table, write_comparison
    from embedspec.eval.encoding import EmbeddingCache
    from embedspec.pipeline import build
    from embedspec.plugins import get_registry

    encoder = _encoder_block(args.encoder)
    dataset = load_beir(args.beir, args.split)
    if args.limit_queries:
        dataset = dataset.limit_queries(args.limit_queries)
    print(dataset.summary(), file=sys.stderr)
    probe = build({"version": 1, "encoder": encoder, "index": {"type": "exact"}})
    dim = probe.dim
    probe.close()
    qdrant = not args.no_qdrant and "qdrant-edge" in get_registry().names("index")
    cache = EmbeddingCache.load(args.cache) if args.cache else EmbeddingCache()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="embedspec-study-") as tmp:
        rows = study_specs(encoder, dim, Path(tmp), qdrant)

        def report(r: Any) -> None:
            print(f"{r.label:<20} ndcg@10 {r.metrics['ndcg@10']:.4f}  recall@100 {r.metrics['recall@100']:.4f}  "
                  f"{r.bytes_per_vector:>5} B/vec  p50 {r.latency_p50_ms:.3f} ms", file=sys.stderr, flush=True)

        results = compare_specs(rows, dataset, cache=cache, on_result=report, progress=False)
    if args.cache:
        cache.save(args.cache)
    command = "python benchmarks/compression_study.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}"
    reference = pytrec_eval_check(results, dataset.qrels)
    paths = write_comparison(
        results, args.out, name=args.name, title=f"Compression study: {dataset.summary()}",
        extra={"command": command.strip(), "machine": machine, "encoder": encoder, "dim": dim,
               "seconds": time.perf_counter() - start, "pytrec_eval": reference},
    )
    print(markdown_table(results))
    if reference:
        worst = max(max(abs(r["ndcg@10 diff"]), abs(r["recall@100 diff"])) for r in reference)
        print(f"pytrec_eval on the same runs: largest |difference| in nDCG@10 / recall@100 = {worst:.2e}")
    print(json.dumps({k: str(v) for k, v in paths.items()}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
