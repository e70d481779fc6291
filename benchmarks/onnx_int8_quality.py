"""int8 vs fp32 quality of embedspec-onnx on SciFact: cosine per document and nDCG@10 (exact search).

    python benchmarks/onnx_int8_quality.py                 # whole corpus (5,183 docs), 300 test queries
    python benchmarks/onnx_int8_quality.py --subset 1500   # test queries' relevant docs + random others
    python benchmarks/onnx_int8_quality.py --int8-file model_int8_variant.onnx   # try another int8 graph

Vectors are cached under runs/onnx-quality/ (keyed by graph file and size). Writes
benchmarks/results/onnx_int8_quality.json.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data")) / "scifact"
CACHE = REPO / "runs" / "onnx-quality"


def ndcg_at_10(scores: np.ndarray, doc_ids: list[str], query_ids: list[str],
               qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 over ``query_ids``; ``scores (q, n)``, graded relevance from ``qrels``."""
    top = np.argsort(-scores, axis=1)[:, :10]
    discounts = 1.0 / np.log2(np.arange(2, 12))
    values = []
    for qi, qid in enumerate(query_ids):
        rel = qrels[qid]
        gains = np.array([rel.get(doc_ids[j], 0) for j in top[qi]], dtype=np.float64)
        ideal = np.sort(np.array(list(rel.values()), dtype=np.float64))[::-1][:10]
        values.append(float((gains * discounts[: len(gains)]).sum() / (ideal * discounts[: len(ideal)]).sum()))
    return float(np.mean(values))


def encode_cached(encoder, texts: list[str], role: str, key: str) -> np.ndarray:
    digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:10]
    path = CACHE / f"{key}-{role}-{len(texts)}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    start = time.perf_counter()
    vectors = encoder.encode(texts, role=role)
    print(f"  encoded {len(texts)} {role}s with {key} in {time.perf_counter() - start:.1f}s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def main() -> None:
    from embedspec_onnx import OnnxTextEncoder
    from embedspec_onnx.text.export import ensure_minilm

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", default=str(REPO / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--int8-file", default=None, help="an int8 graph in the model directory (default: the card's)")
    parser.add_argument("--subset", type=int, default=0,
                        help="documents: the test queries' relevant ones plus seeded random others up to "
                        "this many (0 = the whole corpus); nDCG@10 is then over that sub-corpus")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "onnx_int8_quality.json"))
    args = parser.parse_args()
    model_dir = ensure_minilm(args.model_dir)
    corpus = [json.loads(line) for line in (DATA / "corpus.jsonl").open(encoding="utf-8")]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (DATA / "queries.jsonl").open(encoding="utf-8"))}
    qrels: dict[str, dict[str, int]] = {}
    with (DATA / "qrels" / "test.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    if args.subset:
        relevant = {d for rel in qrels.values() for d in rel}
        others = [i for i, d in enumerate(corpus) if d["_id"] not in relevant]
        rng = np.random.default_rng(0)
        keep = {i for i, d in enumerate(corpus) if d["_id"] in relevant}
        keep |= set(rng.choice(others, max(0, args.subset - len(keep)), replace=False).tolist())
        corpus = [corpus[i] for i in sorted(keep)]
    doc_ids = [d["_id"] for d in corpus]
    docs = [(d["title"] + " " + d["text"]).strip() for d in corpus]
    query_ids = sorted(qrels, key=lambda q: int(q))
    query_texts = [queries[q] for q in query_ids]

    fp32 = OnnxTextEncoder(model=str(model_dir), device="cpu")
    int8 = OnnxTextEncoder(model=str(model_dir), device="cpu", precision="int8")
    int8_key = "int8"
    if args.int8_file:  # evaluate another int8 graph through a temporary card
        from embedspec_onnx import ModelCard

        card = ModelCard.read(model_dir)
        card.replace(files={**card.files, "model_int8": args.int8_file}).write(model_dir)
        int8_key = Path(args.int8_file).stem
    try:
        report: dict[str, object] = {"model_dir": str(model_dir), "int8_graph": int8_key, "documents": len(docs),
                                     "corpus": "subset: relevant + random" if args.subset else "whole corpus"}
        vec = {}
        for name, enc in (("fp32", fp32), (int8_key, int8)):
            vec[name] = (encode_cached(enc, docs, "document", name), encode_cached(enc, query_texts, "query", name))
        d32, q32 = vec["fp32"]
        d8, q8 = vec[int8_key]
        cos_docs = (d32 * d8).sum(axis=1)
        cos_queries = (q32 * q8).sum(axis=1)
        report["cosine_documents"] = {"mean": float(cos_docs.mean()), "min": float(cos_docs.min()),
                                      "p01": float(np.quantile(cos_docs, 0.01))}
        report["cosine_queries"] = {"mean": float(cos_queries.mean()), "min": float(cos_queries.min())}
        report["ndcg@10"] = {"fp32": ndcg_at_10(q32 @ d32.T, doc_ids, query_ids, qrels),
                             "int8": ndcg_at_10(q8 @ d8.T, doc_ids, query_ids, qrels)}
    finally:
        if args.int8_file:
            card.write(model_dir)
    print(json.dumps(report, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
