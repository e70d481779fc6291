"""Depth truncation (``layers: N``) and 2D Matryoshka points on SciFact: nDCG@10 and docs/s per depth.

Quality: the SciFact corpus (5,183 documents) and the 300 test queries are encoded once by a copy of
the exported fp32 graph that also outputs every layer's token states (same tokenizer, batches and
mean pooling as ``onnx-text``); each layer's pooled vectors are checked against ``onnx-text`` with
``layers: N`` (cosine >= 0.9999 on the speed sample), then scored by exact cosine search, at every
depth and at Matryoshka widths (the first d dimensions, renormalized; MiniLM was not trained for it).
Speed: ``onnx-text`` with ``layers: N`` (fp32 and int8) on ``--speed-docs`` SciFact documents, all
depths interleaved, best of ``--runs``, as docs/s and as a ratio to the full 6-layer fp32 graph.

    python benchmarks/depth_scifact.py               # adds the depth graphs to --model-dir first if missing
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data")) / "scifact"
LAYER_OUTPUT = "/encoder/layer.{i}/output/LayerNorm/LayerNormalization_output_0"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=REPO / "models" / "all-MiniLM-L6-v2")
    p.add_argument("--depths", default="2,3,4,5", help="truncated depths (the full model is always measured)")
    p.add_argument("--dims", default="384,256,128,64", help="Matryoshka widths of the 2D table")
    p.add_argument("--speed-docs", type=int, default=200)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--batch-tokens", type=int, default=None, help="onnx-text batch_tokens for both parts")
    p.add_argument("--workdir", type=Path, default=REPO / "runs" / "depth")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "depth_scifact.json")
    return p.parse_args()


def all_layers_graph(model: Path, layers: int, out: Path) -> list[str]:
    """Write ``model`` with every layer's output added as a graph output; returns the output names by depth."""
    import onnx

    proto = onnx.load(str(model))
    names = [LAYER_OUTPUT.format(i=i) for i in range(layers - 1)]
    produced = {o for node in proto.graph.node for o in node.output}
    missing = [n for n in names if n not in produced]
    if missing:
        raise SystemExit(f"{model}: no tensor {missing[0]} (the graph is not a BERT-style optimum export)")
    existing = {o.name for o in proto.graph.output}
    proto.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in existing)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    return [*names, proto.graph.output[0].name]


def encode_layers(graph: Path, outputs: list[str], texts: list[str], model_dir: Path,
                  batch_tokens: int | None) -> list[np.ndarray]:
    """``[(n, dim)]`` per depth 1..L: mean-pooled, L2-normalized token states of each layer."""
    from embedspec.base import l2_normalize
    from embedspec_onnx import ModelCard
    from embedspec_onnx.common.runtime import create_session
    from embedspec_onnx.common.tokenization import TextTokenizer
    from embedspec_onnx.text.pooling import pool

    card = ModelCard.read(model_dir)
    tokenizer = TextTokenizer(card.file(model_dir, "tokenizer"), max_length=card.max_length,
                              padding_side=card.padding_side, pad_token_id=card.pad_token_id)
    session = create_session(graph, device="cpu")
    inputs = [i.name for i in session.get_inputs()]
    out = [np.empty((len(texts), card.dim), dtype=np.float32) for _ in outputs]
    for batch in tokenizer.batches(tokenizer.tokenize(texts), 32, batch_tokens):
        for layer, hidden in enumerate(session.run(outputs, batch.feed(inputs))):
            out[layer][batch.positions] = l2_normalize(pool(hidden, batch.attention_mask, card.pooling))
    return out


def ndcg(doc_ids: list[str], docs: np.ndarray, query_ids: list[str], queries: np.ndarray,
         qrels: dict[str, dict[str, int]], dim: int) -> float:
    from embedspec.base import l2_normalize
    from embedspec.eval.metrics import evaluate_run

    d, q = l2_normalize(docs[:, :dim]), l2_normalize(queries[:, :dim])
    scores = q @ d.T
    top = np.argpartition(-scores, 100, axis=1)[:, :100]
    run = {qid: {doc_ids[j]: float(scores[i, j]) for j in top[i]} for i, qid in enumerate(query_ids)}
    return evaluate_run(qrels, run, ["ndcg@10"])["ndcg@10"]


def main() -> None:
    args = parse_args()
    from embedspec.eval.beir import load_beir
    from embedspec.machine import cpu_info, cpu_line
    from embedspec_onnx import ModelCard, OnnxTextEncoder

    if not DATA.is_dir():
        raise SystemExit(f"SciFact not found at {DATA} (set EMBEDSPEC_DATA)")
    print(f"CPU: {cpu_line()}", flush=True)
    depths = [int(d) for d in args.depths.split(",")]
    dims = [int(d) for d in args.dims.split(",")]
    card = ModelCard.read(args.model_dir)
    missing = [d for d in depths if d not in card.depths() or f"model_layers{d}_int8" not in card.files]
    if missing:
        from embedspec_onnx.text.depth import add_depths
        from embedspec_onnx.text.export import minilm_checkpoint

        t = time.perf_counter()
        add_depths(args.model_dir, minilm_checkpoint(), missing, quantize="int8")
        print(f"added depths {missing} in {time.perf_counter() - t:.0f} s", flush=True)
    data = load_beir(DATA, "test")
    doc_ids, doc_texts = data.documents()
    query_ids, query_texts = data.query_items()
    full = 6
    outputs = all_layers_graph(args.model_dir / card.files["model"], full, args.workdir / "model_all_layers.onnx")

    # speed first (and the per-depth check of the all-layers vectors against onnx-text layers: N)
    rng = np.random.default_rng(0)
    sample = [doc_texts[i] for i in sorted(rng.choice(len(doc_texts), args.speed_docs, replace=False))]
    engines = {}
    for depth in [*depths, full]:
        for precision in ("fp32", "int8"):
            engines[(depth, precision)] = OnnxTextEncoder(
                model=str(args.model_dir), device="cpu", precision=precision,  # type: ignore[arg-type]
                layers=None if depth == full else depth, batch_tokens=args.batch_tokens)
    for enc in engines.values():
        enc.encode(sample[:16])  # warm-up
    times: dict[tuple[int, str], list[float]] = {k: [] for k in engines}
    sample_vectors = {}
    for _ in range(args.runs):
        for key, enc in engines.items():
            t = time.perf_counter()
            sample_vectors[key] = enc.encode(sample)
            times[key].append(time.perf_counter() - t)
        print(f"  speed run done (load {os.getloadavg()[0]:.1f})", flush=True)
    layer_sample = encode_layers(args.workdir / "model_all_layers.onnx", outputs, sample, args.model_dir,
                                 args.batch_tokens)
    check = {d: float((layer_sample[d - 1] * sample_vectors[(d, "fp32")]).sum(axis=1).min()) for d in [*depths, full]}
    bad = {d: c for d, c in check.items() if c < 0.9999}
    if bad:
        raise SystemExit(f"the all-layers graph disagrees with onnx-text layers: N: smallest cosines {bad}")

    t = time.perf_counter()
    doc_layers = encode_layers(args.workdir / "model_all_layers.onnx", outputs, doc_texts, args.model_dir,
                               args.batch_tokens)
    query_layers = encode_layers(args.workdir / "model_all_layers.onnx", outputs, query_texts, args.model_dir,
                                 args.batch_tokens)
    quality_s = time.perf_counter() - t
    base = min(times[(full, "fp32")])
    rows = []
    for depth in [*depths, full]:
        row: dict[str, object] = {"layers": depth, "check_min_cosine": round(check[depth], 6)}
        for dim in dims:
            row[f"ndcg@10_dim{dim}"] = round(ndcg(doc_ids, doc_layers[depth - 1], query_ids,
                                                  query_layers[depth - 1], data.qrels, dim), 4)
        for precision in ("fp32", "int8"):
            best = min(times[(depth, precision)])
            row[f"{precision}_docs_per_s"] = round(len(sample) / best, 1)
            row[f"{precision}_speedup_vs_6_fp32"] = round(base / best, 2)
            row[f"{precision}_seconds_all"] = [round(x, 3) for x in times[(depth, precision)]]
        int8_cos = (sample_vectors[(depth, "int8")] * sample_vectors[(depth, "fp32")]).sum(axis=1)
        row["int8_cosine_to_fp32_mean"] = round(float(int8_cos.mean()), 4)
        rows.append(row)
    report = {"machine": {"cpu": cpu_info(), "load_average_end": os.getloadavg()},
              "settings": {"speed_docs": len(sample), "runs": args.runs, "statistic": "best of runs, interleaved",
                           "batch_tokens": args.batch_tokens, "quality_encode_s": round(quality_s, 1),
                           "documents": len(doc_ids), "queries": len(query_ids)},
              "rows": rows}
    head = "layers " + " ".join(f"nDCG@10/{d:<4}" for d in dims) + "  fp32 docs/s  x6L   int8 docs/s  x6L  int8 cos"
    print(head)
    for r in rows:
        print(f"{r['layers']:>6} " + " ".join(f"{r[f'ndcg@10_dim{d}']:>11.4f}" for d in dims)
              + f"  {r['fp32_docs_per_s']:>11} {r['fp32_speedup_vs_6_fp32']:>4}  {r['int8_docs_per_s']:>11} "
              f"{r['int8_speedup_vs_6_fp32']:>4}  {r['int8_cosine_to_fp32_mean']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot(rows, dims, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


def plot(rows: list[dict[str, object]], dims: list[int], path: Path) -> None:
    """nDCG@10 against encoding speed: one line per width, one point per depth (the 2D Matryoshka picture)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for dim in dims:
        xs = [r["fp32_speedup_vs_6_fp32"] for r in rows]
        ys = [r[f"ndcg@10_dim{dim}"] for r in rows]
        ax.plot(xs, ys, marker="o", label=f"{dim} dims")
        if dim == dims[0]:
            for r, x, y in zip(rows, xs, ys):
                ax.annotate(f"{r['layers']}L", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("fp32 encoding speed vs the full 6-layer model (x)")
    ax.set_ylabel("SciFact nDCG@10")
    ax.set_title("all-MiniLM-L6-v2: layers x dimensions")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
