"""gFun on SIB-200 (13 languages, 7 topics): naive per-language classifiers vs Fun vs single views vs gFun.

    .venv/bin/python benchmarks/gfun_sib200.py [--low-resource-lang deu_Latn] [--low-resource-n 50]

(a) multilingual: train on every language's train split (701 docs each), macro/micro-F1 on test.
(b) low-resource: the same, but one language keeps only ``--low-resource-n`` training examples.
Multilingual USE vectors are cached per language under ``runs/gfun_sib200/`` (first run encodes).
Writes ``benchmarks/results/gfun_sib200.json`` and ``benchmarks/results/gfun_sib200.png``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the shared machine: no BLAS oversubscription
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from embedspec.base import BaseEncoder  # noqa: E402
from embedspec.hookspecs import hookimpl  # noqa: E402
from embedspec.plugins import get_registry, register_plugin  # noqa: E402
from embedspec.registry import ComponentConfig  # noqa: E402
from embedspec.storage import read_npz, write_npz  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data")) / "sib200"
CACHE = REPO / "runs" / "gfun_sib200"
RESULTS = REPO / "benchmarks" / "results"
LANGS = ("eng_Latn", "deu_Latn", "fra_Latn", "ita_Latn", "spa_Latn", "por_Latn", "nld_Latn",
         "pol_Latn", "rus_Cyrl", "zho_Hans", "jpn_Jpan", "arb_Arab", "tur_Latn")
USE_BLOCK = {"type": "use-cached"}
SYSTEMS: dict[str, dict[str, Any] | None] = {
    "naive (per-language tf-idf + LR)": None,
    "Fun (posteriors)": {},
    "WCE view only": {"posteriors": False, "wce": True},
    "USE view only": {"posteriors": False, "embeddings": USE_BLOCK},
    "gFun posteriors+USE": {"embeddings": USE_BLOCK},
    "gFun all views (avg)": {"wce": True, "embeddings": USE_BLOCK},
    "gFun all views (concat)": {"wce": True, "embeddings": USE_BLOCK, "aggregation": "concat"},
}
SINGLE_VIEWS = ("Fun (posteriors)", "WCE view only", "USE view only")


def read_split(lang: str, split: str) -> list[dict[str, str]]:
    with (DATA / lang / f"{split}.tsv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


# ---- USE vectors, cached per language ------------------------------------------------------
def use_cache() -> dict[str, np.ndarray]:
    """``{text: (512,) float32}`` for every SIB-200 sentence, encoded once and kept in npz files."""
    encoder = get_registry().get("encoder", "use-multilingual").create({})
    table: dict[str, np.ndarray] = {}
    for lang in LANGS:
        path = CACHE / f"use_{lang}.npz"
        if path.is_file():
            arrays = read_npz(path)
        else:
            texts = sorted({r["text"] for s in ("train", "dev", "test") for r in read_split(lang, s)})
            t0 = time.perf_counter()
            vectors = encoder.encode(texts)
            print(f"  encoded {len(texts)} {lang} sentences with USE in {time.perf_counter() - t0:.1f}s")
            arrays = {"texts": np.array(texts), "vectors": vectors}
            write_npz(path, arrays)
        table.update(zip(arrays["texts"].tolist(), arrays["vectors"]))
    return table


class CachedUSEConfig(ComponentConfig):
    pass


class CachedUSEEncoder(BaseEncoder):
    """``use-multilingual`` served from the cache (falls back to the model for unseen texts)."""

    table: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return 512

    def _encode_batch(self, inputs: Sequence[Any], role: str) -> np.ndarray:
        missing = [t for t in inputs if t not in self.table]
        if missing:
            model = get_registry().get("encoder", "use-multilingual").create({})
            self.table.update(zip(missing, model.encode(missing)))
        return np.stack([self.table[t] for t in inputs]).astype(np.float32)


class _CachePlugin:
    @hookimpl
    def register_encoders(self, register: Any) -> None:
        register("use-cached", CachedUSEEncoder, CachedUSEConfig)


# ---- systems ------------------------------------------------------------------------------
def f1_scores(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> tuple[float, float]:
    from sklearn.metrics import f1_score

    return (
        float(f1_score(gold, pred, labels=list(labels), average="macro", zero_division=0)),
        float(f1_score(gold, pred, labels=list(labels), average="micro", zero_division=0)),
    )


Split = dict[str, tuple[list[str], list[str]]]  # {lang: (texts, labels)}


def run_naive(train: Split, test: dict[str, list[str]]) -> dict[str, list[str]]:
    """One independent tf-idf + logistic regression classifier per language (same tokens and C as Fun)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from embedspec_gfun.tfidf import choose_settings

    out = {}
    for lang, (texts, labels) in train.items():
        s = choose_settings(texts, "auto")
        vec = TfidfVectorizer(sublinear_tf=True, analyzer=s["analyzer"], ngram_range=tuple(s["ngram_range"]))
        clf = LogisticRegression(C=10.0, max_iter=2000).fit(vec.fit_transform(texts), labels)
        out[lang] = list(clf.predict(vec.transform(test[lang])))
    return out


def run_gfun(block: dict[str, Any], train: Split, test: dict[str, list[str]]) -> dict[str, list[str]]:
    enc = get_registry().get("encoder", "gfun").create(block)
    records = [{"text": t, "lang": lang} for lang, (texts, _) in train.items() for t in texts]
    labels = [y for _, ys in train.values() for y in ys]
    enc.fit(records, labels)
    pred = enc.predict([{"text": t, "lang": lang} for lang in test for t in test[lang]])
    out, start = {}, 0
    for lang, texts in test.items():
        out[lang] = pred[start : start + len(texts)]
        start += len(texts)
    return out


def evaluate(
    name: str, train: Split, test: dict[str, list[str]], gold: dict[str, list[str]], labels: list[str]
) -> dict[str, Any]:
    t0 = time.perf_counter()
    block = SYSTEMS[name]
    pred = run_naive(train, test) if block is None else run_gfun(block, train, test)
    seconds = time.perf_counter() - t0
    per_lang = {lang: dict(zip(("macro_f1", "micro_f1"), f1_scores(gold[lang], pred[lang], labels))) for lang in test}
    return {
        "per_language": per_lang,
        "mean_macro_f1": float(np.mean([v["macro_f1"] for v in per_lang.values()])),
        "mean_micro_f1": float(np.mean([v["micro_f1"] for v in per_lang.values()])),
        "seconds": seconds,
    }


def subsample(texts: list[str], labels: list[str], n: int, seed: int) -> tuple[list[str], list[str]]:
    keep = sorted(np.random.default_rng(seed).choice(len(texts), size=n, replace=False))
    return [texts[i] for i in keep], [labels[i] for i in keep]


# ---- report -------------------------------------------------------------------------------
def print_table(results: dict[str, Any], low: str) -> None:
    base_a = results["multilingual"]["naive (per-language tf-idf + LR)"]["mean_macro_f1"]
    base_b = results["low_resource"]["naive (per-language tf-idf + LR)"]["per_language"][low]["macro_f1"]
    print(f"\n{'system':32} | (a) macro-F1  micro-F1  x naive | (b) mean macro-F1 |"
          f" (b) {low} macro-F1  micro-F1  x naive | fit+predict s")
    for name in SYSTEMS:
        a, b = results["multilingual"][name], results["low_resource"][name]
        bl = b["per_language"][low]
        print(
            f"{name:32} | {a['mean_macro_f1']:12.4f} {a['mean_micro_f1']:9.4f} {a['mean_macro_f1'] / base_a:7.3f} |"
            f" {b['mean_macro_f1']:17.4f} | {bl['macro_f1']:21.4f} {bl['micro_f1']:9.4f}"
            f" {bl['macro_f1'] / base_b:7.3f} |"
            f" {a['seconds']:6.1f} / {b['seconds']:6.1f}"
        )


def verdicts(results: dict[str, Any], low: str) -> list[str]:
    """Plain statements: does each combination beat the best single view, per setting?"""
    lines = []
    for setting, lang in (("multilingual", None), ("low_resource", None), ("low_resource", low)):
        def score(name: str, setting: str = setting, lang: str | None = lang) -> float:
            r = results[setting][name]
            return r["per_language"][lang]["macro_f1"] if lang else r["mean_macro_f1"]

        best = max(SINGLE_VIEWS, key=score)
        where = f"{setting}, {lang} only" if lang else f"{setting}, mean of 13 languages"
        for combo in ("gFun all views (avg)", "gFun all views (concat)", "gFun posteriors+USE"):
            gain = score(combo) - score(best)
            lines.append(
                f"[{where}] {combo}: {score(combo):.4f} macro-F1 {'BEATS' if gain > 0 else 'does NOT beat'} "
                f"the best single view ({best}, {score(best):.4f}) by {gain:+.4f}"
            )
    return lines


def plot(results: dict[str, Any], low: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(SYSTEMS)
    fig, axes = plt.subplots(1, 2, figsize=(17, 5.5), gridspec_kw={"width_ratios": [3.2, 1]})
    width = 0.8 / len(names)
    x = np.arange(len(LANGS) + 1)
    for i, name in enumerate(names):
        r = results["multilingual"][name]
        vals = [r["per_language"][lang]["macro_f1"] for lang in LANGS] + [r["mean_macro_f1"]]
        axes[0].bar(x + i * width, vals, width, label=name)
    axes[0].set_xticks(x + 0.4 - width / 2, [lang.split("_")[0] for lang in LANGS] + ["MEAN"])
    axes[0].set_ylim(0.3, 1.0)
    axes[0].set_ylabel("macro-F1 (test)")
    axes[0].set_title("(a) multilingual: all 13 languages fully trained")
    for i, name in enumerate(names):
        r = results["low_resource"][name]
        axes[1].bar(np.arange(2) + i * width, [r["per_language"][low]["macro_f1"], r["mean_macro_f1"]], width)
    axes[1].set_xticks(np.arange(2) + 0.4 - width / 2, [f"{low.split('_')[0]} (50 train)", "mean of 13"])
    axes[1].set_ylim(0.0, 1.0)
    axes[1].set_title("(b) low-resource language")
    handles, names_ = axes[0].get_legend_handles_labels()
    fig.legend(handles, names_, loc="lower center", ncol=len(names), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--low-resource-lang", default="deu_Latn", choices=LANGS)
    parser.add_argument("--low-resource-n", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from-json", action="store_true", help="re-print and re-plot the saved results")
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads((RESULTS / "gfun_sib200.json").read_text())
        low = saved["meta"]["low_resource_lang"]
        print_table(saved, low)
        saved["meta"]["verdict"] = verdicts(saved, low)
        print("\n" + "\n".join(saved["meta"]["verdict"]))
        (RESULTS / "gfun_sib200.json").write_text(json.dumps(saved, indent=2))
        plot(saved, low, RESULTS / "gfun_sib200.png")
        return
    if not DATA.is_dir():
        raise SystemExit(f"SIB-200 not found at {DATA} (set EMBEDSPEC_DATA)")
    warnings.simplefilter("ignore", UserWarning)
    labels = (DATA / "eng_Latn" / "labels.txt").read_text(encoding="utf-8").split("\n")
    labels = [lab.strip() for lab in labels if lab.strip()]
    t_start = time.perf_counter()
    print("USE vectors (cache: runs/gfun_sib200/) ...")
    CachedUSEEncoder.table = use_cache()
    register_plugin(_CachePlugin(), name="use-cached")
    train = {lang: ([r["text"] for r in rows], [r["category"] for r in rows])
             for lang in LANGS for rows in [read_split(lang, "train")]}
    test_rows = {lang: read_split(lang, "test") for lang in LANGS}
    test = {lang: [r["text"] for r in rows] for lang, rows in test_rows.items()}
    gold = {lang: [r["category"] for r in rows] for lang, rows in test_rows.items()}
    low_train = dict(train)
    low_train[args.low_resource_lang] = subsample(*train[args.low_resource_lang], args.low_resource_n, args.seed)
    results: dict[str, Any] = {"multilingual": {}, "low_resource": {}}
    for name in SYSTEMS:
        for setting, data in (("multilingual", train), ("low_resource", low_train)):
            results[setting][name] = evaluate(name, data, test, gold, labels)
            print(f"  {setting:13} {name:32} macro-F1 {results[setting][name]['mean_macro_f1']:.4f}"
                  f" ({results[setting][name]['seconds']:.1f}s)", flush=True)
    low = args.low_resource_lang
    print_table(results, low)
    verdict = verdicts(results, low)
    print("\n" + "\n".join(verdict))
    meta = {
        "command": f"python benchmarks/gfun_sib200.py --low-resource-lang {low}"
        f" --low-resource-n {args.low_resource_n}",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}",
        "low_resource_lang": low, "low_resource_n": args.low_resource_n, "verdict": verdict,
        "total_seconds": time.perf_counter() - t_start, "systems": {k: v for k, v in SYSTEMS.items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gfun_sib200.json").write_text(json.dumps({"meta": meta, **results}, indent=2))
    plot(results, low, RESULTS / "gfun_sib200.png")
    print(f"wrote {RESULTS / 'gfun_sib200.json'} and gfun_sib200.png in {meta['total_seconds']:.0f}s")


if __name__ == "__main__":
    main()
