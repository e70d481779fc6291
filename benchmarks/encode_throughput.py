"""Encoding throughput: embedspec-onnx (fp32, int8) vs sentence-transformers vs fastembed, same weights.

All engines run all-MiniLM-L6-v2 on the CPU with the same batch size and thread count; fastembed
runs the very ONNX file embedspec-onnx exported (its custom-model API), sentence-transformers the
torch checkpoint it came from. Runs are interleaved (engine A, B, C, D, then again) and the best of
``--runs`` is kept, because the machine is shared. Prints a table with ratios, writes JSON.

    python benchmarks/encode_throughput.py                    # exports models/all-MiniLM-L6-v2 first if needed
    python benchmarks/encode_throughput.py --corpus-limit 0   # the whole SciFact corpus (slow)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data")) / "scifact"


def load_sets(short_n: int, corpus_limit: int, seed: int = 0) -> dict[str, list[str]]:
    """(a) ``short_n`` mixed-length short texts: SciFact queries + title/abstract snippets of 3-60 words;
    (b) SciFact documents ``title + " " + text`` (a seeded sample of ``corpus_limit``; 0 = all)."""
    corpus = [json.loads(line) for line in (DATA / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line)["text"] for line in (DATA / "queries.jsonl").open(encoding="utf-8")]
    rng = np.random.default_rng(seed)
    short = list(queries[:short_n])
    while len(short) < short_n:
        doc = corpus[int(rng.integers(len(corpus)))]
        words = (doc["title"] + " " + doc["text"]).split()
        n = int(rng.integers(3, 61))
        start = int(rng.integers(0, max(1, len(words) - n)))
        short.append(" ".join(words[start : start + n]))
    rng.shuffle(short)
    docs = [(d["title"] + " " + d["text"]).strip() for d in corpus]
    if corpus_limit:
        docs = [docs[i] for i in sorted(rng.choice(len(docs), corpus_limit, replace=False))]
    return {"short": short, "scifact": docs}


def machine() -> dict[str, object]:
    from embedspec_onnx.common.runtime import physical_cores

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    flags = Path("/proc/cpuinfo").read_text()
    versions = {}
    for mod in ("onnxruntime", "torch", "sentence_transformers", "fastembed", "transformers"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional peers
            versions[mod] = None
    from embedspec.machine import cpu_info

    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "physical_cores": physical_cores(),
            "avx512_vnni": "avx512_vnni" in flags, "isa": cpu_info()["isa_present"], "python": platform.python_version(),
            "load_average_start": os.getloadavg(), "versions": versions}


def fastembed_dir(model_dir: Path, max_length: int) -> Path:
    """A view of the model directory fastembed can read, truncating at the same max length."""
    view = model_dir.parent / (model_dir.name + "-fastembed-view")
    view.mkdir(exist_ok=True)
    for name in ("model.onnx", "tokenizer.json", "config.json", "special_tokens_map.json"):
        if (model_dir / name).exists() and not (view / name).exists():
            os.symlink((model_dir / name).resolve(), view / name)
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    tok_config["model_max_length"] = max_length  # fastembed takes the smaller of these two keys
    tok_config["max_length"] = max_length
    (view / "tokenizer_config.json").write_text(json.dumps(tok_config))
    return view


def make_engines(model_dir: Path, batch_size: int, threads: int, names: list[str],
                 batch_tokens: int | None = None) -> dict[str, Callable]:
    from embedspec_onnx import ModelCard, OnnxTextEncoder
    from embedspec_onnx.text.export import minilm_checkpoint

    card = ModelCard.read(model_dir)
    engines: dict[str, Callable] = {}
    if "embedspec-onnx-fp32" in names:
        fp32 = OnnxTextEncoder(model=str(model_dir), device="cpu", threads=threads, batch_size=batch_size)
        engines["embedspec-onnx-fp32"] = fp32.encode
    if "embedspec-onnx-int8" in names:
        int8 = OnnxTextEncoder(model=str(model_dir), device="cpu", precision="int8", threads=threads, batch_size=batch_size)
        engines["embedspec-onnx-int8"] = int8.encode
    if batch_tokens:  # token-budget batches: rows capped high, padded tokens per pass bounded
        for precision in ("fp32", "int8"):
            if f"embedspec-onnx-{precision}" in names:
                enc = OnnxTextEncoder(model=str(model_dir), device="cpu", precision=precision, threads=threads,
                                      batch_size=1024, batch_tokens=batch_tokens)
                engines[f"embedspec-onnx-{precision}-tokens{batch_tokens}"] = enc.encode
    if "sentence-transformers" in names:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        st = SentenceTransformer(str(minilm_checkpoint()), device="cpu")
        engines["sentence-transformers"] = lambda texts: st.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    if "fastembed" in names:
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        name = "embedspec/all-MiniLM-L6-v2-onnx"
        TextEmbedding.add_custom_model(model=name, pooling=PoolingType.MEAN, normalization=True,
                                       sources=ModelSource(hf=name), dim=card.dim, model_file="model.onnx")
        fe = TextEmbedding(name, specific_model_path=str(fastembed_dir(model_dir, card.max_length)),
                           threads=threads, providers=["CPUExecutionProvider"])
        engines["fastembed"] = lambda texts: np.stack(list(fe.embed(texts, batch_size=batch_size)))
    return engines


def run(args: argparse.Namespace) -> dict[str, object]:
    from embedspec_onnx import OnnxTextEncoder
    from embedspec_onnx.common.runtime import physical_cores
    from embedspec_onnx.text.export import ensure_minilm

    info = machine()
    model_dir = ensure_minilm(args.model_dir)
    threads = args.threads or physical_cores()
    sets = {k: v for k, v in load_sets(args.short_n, args.corpus_limit).items() if k in args.sets}
    counter = OnnxTextEncoder(model=str(model_dir), device="cpu")
    tokens = {k: counter.count_tokens(v) for k, v in sets.items()}
    engines = make_engines(model_dir, args.batch_size, threads, args.engines, args.batch_tokens)
    for fn in engines.values():  # warm-up: sessions, allocator arenas, torch kernels
        fn(next(iter(sets.values()))[:64])
    results: dict[str, dict[str, dict[str, object]]] = {k: {} for k in sets}
    vectors: dict[str, dict[str, np.ndarray]] = {k: {} for k in sets}
    for set_name, texts in sets.items():
        times: dict[str, list[float]] = {e: [] for e in engines}
        for _ in range(args.runs):
            for engine, fn in engines.items():  # interleaved
                start = time.perf_counter()
                out = fn(texts)
                times[engine].append(time.perf_counter() - start)
                vectors[set_name][engine] = np.asarray(out, dtype=np.float32)
                print(f"  {set_name:8s} {engine:22s} {times[engine][-1]:8.2f}s", flush=True)
        for engine, t in times.items():
            best = min(t)
            results[set_name][engine] = {
                "seconds_best": round(best, 3), "seconds_all": [round(x, 3) for x in t],
                "docs_per_s": round(len(texts) / best, 1), "tokens_per_s": round(tokens[set_name] / best),
            }
        ref = vectors[set_name].get("sentence-transformers", vectors[set_name].get("embedspec-onnx-fp32"))
        for engine, vec in vectors[set_name].items():
            cos = (vec * ref).sum(axis=1)
            results[set_name][engine]["cosine_to_reference"] = {"mean": round(float(cos.mean()), 5),
                                                               "min": round(float(cos.min()), 5)}
    profiles = {k: profile(model_dir, v, threads, args.batch_size, args.batch_tokens) for k, v in sets.items()} \
        if args.profile else None
    return {"machine": dict(info, load_average_end=os.getloadavg(), threads=threads), "profile": profiles,
            "settings": {"batch_size": args.batch_size, "batch_tokens": args.batch_tokens, "runs": args.runs, "statistic": "best of runs, interleaved",
                         "texts": {k: len(v) for k, v in sets.items()}, "tokens": tokens,
                         "reference_for_cosine": "sentence-transformers"},
            "results": results}


def profile(model_dir: Path, texts: list[str], threads: int, batch_size: int,
            batch_tokens: int | None) -> dict[str, object]:
    """Where an ``encode`` call's time goes, per precision: tokenization, forward passes (and, from
    onnxruntime's profiler, the share of each operator type), pooling; and the padding computed."""
    import onnxruntime as ort
    from embedspec.base import l2_normalize
    from embedspec_onnx import OnnxTextEncoder
    from embedspec_onnx.text.pooling import pool

    out: dict[str, object] = {}
    for precision in ("fp32", "int8"):
        enc = OnnxTextEncoder(model=str(model_dir), device="cpu", precision=precision, threads=threads,
                              batch_size=batch_size if not batch_tokens else 1024, batch_tokens=batch_tokens)
        enc.warm_up()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.enable_profiling = True
        opts.profile_file_prefix = str(REPO / "runs" / f"ort-profile-{precision}")
        (REPO / "runs").mkdir(exist_ok=True)
        session = ort.InferenceSession(str(enc._graph), sess_options=opts, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        t0 = time.perf_counter()
        encodings = enc._tokenizer.tokenize(texts)
        t1 = time.perf_counter()
        run_s = pool_s = pad_s = 0.0
        real = padded = 0
        batches = 0
        t_pad = time.perf_counter()
        for batch in enc._tokenizer.batches(encodings, enc.batch_size, batch_tokens):
            pad_s += time.perf_counter() - t_pad
            batches += 1
            real += int(batch.attention_mask.sum())
            padded += batch.input_ids.size
            t = time.perf_counter()
            (hidden,) = session.run([enc._output], batch.feed(names))
            t2 = time.perf_counter()
            l2_normalize(pool(hidden, batch.attention_mask, "mean"))
            run_s += t2 - t
            pool_s += time.perf_counter() - t2
            t_pad = time.perf_counter()
        trace = json.loads(Path(session.end_profiling()).read_text())
        ops: dict[str, float] = {}
        for event in trace:
            if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                op = event.get("args", {}).get("op_name", "?")
                ops[op] = ops.get(op, 0.0) + event["dur"] / 1e6
        total_ops = sum(ops.values()) or 1.0
        out[precision] = {
            "tokenize_s": round(t1 - t0, 3), "batching_and_padding_s": round(pad_s, 3),
            "forward_s": round(run_s, 3), "pool_normalize_s": round(pool_s, 3), "batches": batches,
            "real_tokens": real, "padded_tokens": padded, "padding_share": round(1 - real / max(padded, 1), 4),
            "operator_share": {k: round(v / total_ops, 4) for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:12]},
        }
    return out


def table(report: dict[str, object]) -> str:
    lines = []
    for set_name, rows in report["results"].items():  # type: ignore[union-attr]
        st = rows.get("sentence-transformers", {}).get("docs_per_s")
        fe = rows.get("fastembed", {}).get("docs_per_s")
        lines.append(f"\n{set_name}: {report['settings']['texts'][set_name]} texts, "  # type: ignore[index]
                     f"{report['settings']['tokens'][set_name]} tokens")  # type: ignore[index]
        lines.append(f"{'engine':22s} {'docs/s':>8s} {'tokens/s':>9s} {'vs ST':>6s} {'vs fastembed':>12s} {'cos mean/min':>14s}")
        for engine, r in rows.items():
            vs_st = f"{r['docs_per_s'] / st:.2f}x" if st else "-"
            vs_fe = f"{r['docs_per_s'] / fe:.2f}x" if fe else "-"
            cos = r["cosine_to_reference"]
            lines.append(f"{engine:22s} {r['docs_per_s']:8.1f} {r['tokens_per_s']:9d} {vs_st:>6s} {vs_fe:>12s} "
                         f"{cos['mean']:.4f}/{cos['min']:.4f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=str(REPO / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--short-n", type=int, default=2000)
    parser.add_argument("--corpus-limit", type=int, default=500, help="SciFact documents (0 = all 5,183)")
    parser.add_argument("--sets", nargs="+", default=["short", "scifact"], choices=["short", "scifact"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="default: physical cores")
    parser.add_argument("--engines", nargs="+", default=["embedspec-onnx-fp32", "embedspec-onnx-int8",
                                                         "sentence-transformers", "fastembed"])
    parser.add_argument("--batch-tokens", type=int, default=None,
                        help="also run embedspec-onnx with token-budget batches of this many padded tokens")
    parser.add_argument("--profile", action="store_true", help="also profile one encode per set (onnxruntime)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "onnx.json"))
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"SciFact not found at {DATA} (set EMBEDSPEC_DATA)")
    from embedspec.machine import cpu_line

    print(f"CPU: {cpu_line()}")
    report = run(args)
    print(table(report))
    if report.get("profile"):
        print(json.dumps(report["profile"], indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    shutil.rmtree(Path(args.model_dir).parent / (Path(args.model_dir).name + "-fastembed-view"), ignore_errors=True)


if __name__ == "__main__":
    main()
