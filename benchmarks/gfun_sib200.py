"""gFun on SIB-200 (13 languages, 7 topics), every system with the same model selection.

    .venv/bin/python benchmarks/gfun_sib200.py [--seeds 0 1 2] [--low-resource-lang deu_Latn]
        [--low-resource-n 50] [--no-lolo] [--from-json [--markdown]]

Settings: (a) multilingual: train on every language's train split (701 sentences each), macro-F1 on
each test split; (b) low-resource: the same, but one language keeps only ``--low-resource-n`` training
sentences (a random draw per seed); (c) leave-one-language-out: train on 12 languages, test the 13th
(the unseen-language path), for each language.

Model selection is the same for every system: gFun's ``select_linear`` (the grid of the component's
kind, 5-fold cross-validation on the training split, folds grouped by the SIB-200 sentence id so that
translations of one sentence never sit on both sides of a fold, macro-F1 of out-of-fold predictions).
The single-view baselines call that same function: per-language TF-IDF + LR ("naive") with the
first-tier grid, multilingual USE + LR on all languages with the recasting grid.

``select_linear`` is a pure function of its inputs; the run memoizes it, so systems that train the same
classifier on the same data (the per-language first tier of every configuration with ``posteriors``,
the USE recasting classifier, which is also the USE + LR baseline) compute it once. Predictions are
unchanged (the cache returns the very result the call would compute); per-system seconds are therefore
not comparable, and the cold fit time of the first system (seed 0, empty memo) is reported separately.
Multilingual USE vectors are cached per language under ``runs/gfun_sib200/`` (first run encodes).
Writes ``benchmarks/results/gfun_sib200.json`` and ``benchmarks/results/gfun_sib200.png``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the shared machine: no BLAS oversubscription
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from embedspec.base import BaseEncoder, l2_normalize  # noqa: E402
from embedspec.hookspecs import hookimpl  # noqa: E402
from embedspec.plugins import build_component, get_registry, register_plugin  # noqa: E402
from embedspec.registry import ComponentConfig  # noqa: E402
from embedspec.storage import read_npz, write_npz  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data")) / "sib200"
CACHE = REPO / "runs" / "gfun_sib200"
RESULTS = REPO / "benchmarks" / "results"
LANGS = ("eng_Latn", "deu_Latn", "fra_Latn", "ita_Latn", "spa_Latn", "por_Latn", "nld_Latn",
         "pol_Latn", "rus_Cyrl", "zho_Hans", "jpn_Jpan", "arb_Arab", "tur_Latn")
USE_BLOCK = {"type": "use-cached"}
#: gFun configurations (the spec block) and single-view baselines (None: run by ``run_baseline``).
SYSTEMS: dict[str, dict[str, Any] | None] = {
    # first: the configuration; its seed-0 fit runs with an empty memo, so its time is a cold fit
    "gFun posteriors+USE (concat)": {"embeddings": USE_BLOCK, "aggregation": "concat"},
    "naive (per-language tf-idf + LR)": None,
    "USE + LR (all languages)": None,
    "Fun (posteriors)": {},
    "WCE view only": {"posteriors": False, "wce": True},
    "USE view only": {"posteriors": False, "embeddings": USE_BLOCK},
    "gFun posteriors+USE (avg)": {"embeddings": USE_BLOCK},
    "gFun all views (avg)": {"wce": True, "embeddings": USE_BLOCK},
    "gFun all views (concat)": {"wce": True, "embeddings": USE_BLOCK, "aggregation": "concat"},
}
SINGLE_VIEWS = ("naive (per-language tf-idf + LR)", "USE + LR (all languages)", "Fun (posteriors)", "WCE view only",
                "USE view only")
BASELINE = "USE + LR (all languages)"
#: Leave-one-language-out: the baseline and the configurations with the embeddings view, but for the
#: averaged ones: every probabilistic configuration serves an unseen language with the same recasting
#: classifier and embeddings-only metaclassifier (identical predictions, plugins/gfun/tests/test_gfun_encoder.py),
#: so they would only repeat "USE view only"; the concat ones are kept to show it.
LOLO_SYSTEMS = [BASELINE, "USE view only", "gFun posteriors+USE (concat)", "gFun all views (concat)"]


# ---- data ---------------------------------------------------------------------------------
@dataclass
class Corpus:
    """Sentences of one split: ``texts``, ``labels``, ``langs`` and ``groups`` (the SIB-200 index_id,
    shared by the translations of one sentence), aligned."""

    texts: list[str]
    labels: list[str]
    langs: list[str]
    groups: list[str]

    def records(self) -> list[dict[str, str]]:
        return [{"text": t, "lang": lang} for t, lang in zip(self.texts, self.langs)]

    def by_language(self) -> dict[str, np.ndarray]:
        out: dict[str, list[int]] = {}
        for i, lang in enumerate(self.langs):
            out.setdefault(lang, []).append(i)
        return {lang: np.asarray(pos) for lang, pos in out.items()}

    def take(self, keep: Sequence[int]) -> Corpus:
        return Corpus(*([col[i] for i in keep] for col in (self.texts, self.labels, self.langs, self.groups)))

    def only(self, lang: str) -> Corpus:
        return self.take([i for i, x in enumerate(self.langs) if x == lang])

    def without(self, lang: str) -> Corpus:
        return self.take([i for i, x in enumerate(self.langs) if x != lang])

    def subsample(self, lang: str, n: int, seed: int) -> Corpus:
        """``lang`` keeps ``n`` random sentences (a draw per seed); the other languages keep all."""
        pos = self.by_language()[lang]
        kept = set(np.random.default_rng(seed).choice(pos, size=n, replace=False).tolist())
        return self.take([i for i, x in enumerate(self.langs) if x != lang or i in kept])


def load_corpus(split: str) -> Corpus:
    if not DATA.is_dir():
        raise SystemExit(f"SIB-200 not found at {DATA} (set EMBEDSPEC_DATA)")
    corpus = Corpus([], [], [], [])
    for lang in LANGS:
        with (DATA / lang / f"{split}.tsv").open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                corpus.texts.append(row["text"])
                corpus.labels.append(row["category"])
                corpus.langs.append(lang)
                corpus.groups.append(row["index_id"])
    return corpus


# ---- USE vectors, cached per language ------------------------------------------------------
def use_cache() -> dict[str, np.ndarray]:
    """``{text: (512,) float32}`` for every SIB-200 sentence, encoded once and kept in npz files."""
    encoder = None
    table: dict[str, np.ndarray] = {}
    for lang in LANGS:
        path = CACHE / f"use_{lang}.npz"
        if path.is_file():
            arrays = read_npz(path)
        else:
            encoder = encoder or get_registry().get("encoder", "use-multilingual").create({})
            texts = sorted({t for s in ("train", "dev", "test") for t in load_split_texts(lang, s)})
            t0 = time.perf_counter()
            vectors = encoder.encode(texts)
            print(f"  encoded {len(texts)} {lang} sentences with USE in {time.perf_counter() - t0:.1f}s")
            arrays = {"texts": np.array(texts), "vectors": vectors}
            write_npz(path, arrays)
        table.update(zip(arrays["texts"].tolist(), arrays["vectors"]))
    return table


def load_split_texts(lang: str, split: str) -> list[str]:
    with (DATA / lang / f"{split}.tsv").open(encoding="utf-8") as fh:
        return [row["text"] for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]


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


def cached_use_plugin() -> None:
    CachedUSEEncoder.table = use_cache()
    register_plugin(_CachePlugin(), name="use-cached")


# ---- memoized model selection --------------------------------------------------------------
class SelectionMemo:
    """``select_linear`` memoized on a digest of all its inputs (it is deterministic), installed where
    gFun's views, recasting classifiers and metaclassifiers call it."""

    def __init__(self) -> None:
        from embedspec_gfun.selection import select_linear

        self.select = select_linear
        self.table: dict[str, Any] = {}
        self.hits = self.misses = 0

    def install(self) -> SelectionMemo:
        import embedspec_gfun.meta
        import embedspec_gfun.views

        embedspec_gfun.views.select_linear = self
        embedspec_gfun.meta.select_linear = self
        return self

    @staticmethod
    def _digest(h: Any, X: Any) -> None:
        if hasattr(X, "indptr"):  # scipy CSR
            for part in (X.data, X.indices, X.indptr, np.asarray(X.shape)):
                h.update(np.ascontiguousarray(part).tobytes())
        else:
            X = np.ascontiguousarray(X)
            h.update(str((X.dtype, X.shape)).encode())
            h.update(X.tobytes())

    def __call__(self, X: Any, Y: np.ndarray, sel: Any, *, validation: Any = None, out_of_fold: bool = True) -> Any:
        h = hashlib.blake2b(digest_size=20)
        for part in (X, Y) + (tuple(validation) if validation is not None else ()):
            self._digest(h, part)
        h.update(repr((sel.grid, sel.folds, sel.seed, sel.multilabel, sel.threshold, out_of_fold)).encode())
        self._digest(h, np.zeros(0) if sel.groups is None else sel.groups)
        key = h.hexdigest()
        if key in self.table:
            self.hits += 1
        else:
            self.misses += 1
            self.table[key] = self.select(X, Y, sel, validation=validation, out_of_fold=out_of_fold)
        return self.table[key]

    def stats(self) -> dict[str, int]:
        return {"computed": self.misses, "reused": self.hits}


def f1_macro(gold: Sequence[str], pred: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, average="macro", zero_division=0))


def machine() -> dict[str, Any]:
    import sklearn

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
               platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), [])
    return {"cpu": cpu, "isa": [f for f in ("avx2", "avx512f", "avx512_vnni") if f in flags],
            "logical_cpus": os.cpu_count(), "load_average_start": os.getloadavg(), "python": platform.python_version(),
            "numpy": np.__version__, "scikit-learn": sklearn.__version__, "blas_threads": os.environ["OMP_NUM_THREADS"]}


# ---- report -------------------------------------------------------------------------------
def _ms(r: dict[str, Any]) -> str:
    return f"{r['mean_macro_f1']:.4f} ± {r['std']:.4f}"


def print_tables(results: dict[str, Any], systems: dict[str, Any], lolo_systems: list[str]) -> None:
    meta = results["meta"]
    low = meta["low_resource_lang"]
    a, b = results["multilingual"], results["low_resource"]
    naive = "naive (per-language tf-idf + LR)"
    print(f"\n{'system':34} | (a) macro-F1 mean ± sd | (b) macro-F1 mean ± sd | (b) {low[:3]} ({meta['low_resource_n']})"
          f" ± sd   x naive | (c) left-out macro-F1 ± sd")
    for name in systems:
        bl = b[name]["low_language"]
        c = _ms(results["lolo"][name]) if name in results.get("lolo", {}) else "-"
        print(f"{name:34} | {_ms(a[name]):>21} | {_ms(b[name]):>21} | {bl['macro_f1']:.4f} ± {bl['std']:.4f}"
              f" {bl['macro_f1'] / b[naive]['low_language']['macro_f1']:7.2f} | {c:>21}")
    head = " ".join(f"{lang[:3]:>5}" for lang in LANGS)
    for title, table, names in (("(a) multilingual", a, list(systems)), (f"(b) low-resource {low}", b, list(systems)),
                                ("(c) left-out language", results.get("lolo", {}), lolo_systems)):
        if not table:
            continue
        print(f"\nper-language macro-F1, {title} (mean over seeds)\n{'system':34} {head}  mean")
        for name in names:
            r = table[name]
            print(f"{name:34} " + " ".join(f"{r['per_language'][lang]:5.3f}" for lang in LANGS)
                  + f" {r['mean_macro_f1']:.4f}")


def markdown_tables(results: dict[str, Any]) -> str:
    """The summary and per-language tables of docs/benchmarks.md, in Markdown."""
    meta = results["meta"]
    low, n_low = meta["low_resource_lang"], meta["low_resource_n"]
    a, b, c = results["multilingual"], results["low_resource"], results.get("lolo", {})
    naive, base = "naive (per-language tf-idf + LR)", BASELINE
    out = [f"| system | (a) mean macro-F1 | (b) mean macro-F1 | (b) {low[:3]} ({n_low} train) | (b) {low[:3]} x naive |"
           f" (b) {low[:3]} − USE+LR | (c) left-out mean macro-F1 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name in a:
        bl = b[name]["low_language"]
        gain = bl["macro_f1"] - b[base]["low_language"]["macro_f1"]
        out.append(f"| {name} | {_ms(a[name])} | {_ms(b[name])} | {bl['macro_f1']:.4f} ± {bl['std']:.4f} |"
                   f" {bl['macro_f1'] / b[naive]['low_language']['macro_f1']:.2f} | {gain:+.4f} |"
                   f" {_ms(c[name]) if name in c else '–'} |")
    head = " | ".join(lang[:3] for lang in LANGS)
    for title, table in (("(a) multilingual", a), (f"(b) low-resource ({low[:3]}: {n_low} training sentences)", b),
                         ("(c) leave-one-language-out (the column's language unseen in training)", c)):
        if not table:
            continue
        out += ["", f"Per-language macro-F1, {title}, mean of {len(meta['seeds'])} seeds:", "",
                f"| system | {head} | mean |", "|---|" + "---:|" * (len(LANGS) + 1)]
        for name, r in table.items():
            out.append(f"| {name} | " + " | ".join(f"{r['per_language'][lang]:.3f}" for lang in LANGS)
                       + f" | {r['mean_macro_f1']:.4f} |")
    return "\n".join(out)


def verdicts(results: dict[str, Any], single_views: Sequence[str], baseline: str) -> list[str]:
    """Plain statements: the best gFun configuration against the single views, per setting."""
    low = results["meta"]["low_resource_lang"]
    lines = []
    a = results["multilingual"]
    combos = [n for n in a if n not in single_views]
    best = max(combos, key=lambda n: a[n]["mean_macro_f1"])
    lines.append(f"best gFun configuration on (a): {best}")
    for setting, lang in (("multilingual", None), ("low_resource", None), ("low_resource", low)):
        r = results[setting]

        def score(name: str, r: dict[str, Any] = r, lang: str | None = lang) -> float:
            return r[name]["low_language"]["macro_f1"] if lang else r[name]["mean_macro_f1"]

        top = max(single_views, key=score)
        where = f"{setting}, {lang} only" if lang else f"{setting}, mean of 13 languages"
        gain = score(best) - score(top)
        lines.append(f"[{where}] {best}: {score(best):.4f} {'>=' if gain >= 0 else '<'} best single view "
                     f"({top}, {score(top):.4f}): {gain:+.4f}")
    if "lolo" in results:
        c = results["lolo"]
        gain = c[best]["mean_macro_f1"] - c[baseline]["mean_macro_f1"]
        lines.append(f"[left-out languages] {best}: {c[best]['mean_macro_f1']:.4f} vs {baseline} "
                     f"{c[baseline]['mean_macro_f1']:.4f}: {gain:+.4f} (target >= -0.005)")
    return lines


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    low = results["meta"]["low_resource_lang"]
    names = list(results["multilingual"])
    panels = [("multilingual", "(a) multilingual: 13 languages fully trained", names)]
    if "lolo" in results:
        panels.append(("lolo", "(c) each language left out of training", list(results["lolo"])))
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(16, 5 * (len(panels) + 1)))
    for ax, (key, title, systems) in zip(axes, panels):
        width = 0.8 / len(systems)
        x = np.arange(len(LANGS) + 1)
        for i, name in enumerate(systems):
            r = results[key][name]
            vals = [r["per_language"][lang] for lang in LANGS] + [r["mean_macro_f1"]]
            ax.bar(x + i * width, vals, width, label=name, color=f"C{names.index(name)}")
        ax.set_xticks(x + 0.4 - width / 2, [lang.split("_")[0] for lang in LANGS] + ["MEAN"])
        ax.set_ylim(0.4, 1.0)
        ax.set_ylabel("macro-F1 (test)")
        ax.set_title(title)
    ax = axes[-1]
    r = results["low_resource"]
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        vals = [r[name]["low_language"]["macro_f1"], r[name]["mean_macro_f1"]]
        ax.bar(np.arange(2) + i * width, vals, width, label=name, color=f"C{i}")
    ax.set_xticks(np.arange(2) + 0.4 - width / 2,
                  [f"{low.split('_')[0]} ({results['meta']['low_resource_n']} train)", "mean of 13"])
    ax.set_ylim(0.0, 1.0)
    ax.set_title("(b) low-resource language")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=90)


# ---- systems ------------------------------------------------------------------------------
def run_baseline(name: str, train: Corpus, test: Corpus, seed: int, memo: SelectionMemo) -> list[str]:
    """The single-view baselines, selected by the same ``select_linear`` as gFun's classifiers."""
    from embedspec_gfun.records import LabelSpace, group_ids
    from embedspec_gfun.selection import FIRST_TIER_GRID, MAPPING_GRID, Selection
    from embedspec_gfun.tfidf import LanguageTfidf

    space = LabelSpace.from_labels(train.labels, len(train.labels))
    Y = space.indicator(train.labels)
    sel = Selection((), folds=5, seed=seed, multilabel=False, groups=group_ids(train.groups, len(train.groups)))
    pred = np.empty(len(test.labels), dtype=object)
    if name == BASELINE:
        encoder = get_registry().get("encoder", "use-cached").create({})
        # exactly the recasting classifier's input: the view's vectors, L2-normalized in float64
        X = l2_normalize(np.asarray(encoder.encode(train.texts), dtype=np.float64)).astype(np.float64)
        chosen = memo(X, Y, sel.with_grid(MAPPING_GRID))
        X_test = l2_normalize(np.asarray(encoder.encode(test.texts), dtype=np.float64)).astype(np.float64)
        pred[:] = [space.classes[j] for j in chosen.model.predict_proba(X_test).argmax(axis=1)]
        return list(pred)
    for lang, pos in train.by_language().items():  # naive: one classifier per language, no sharing
        texts = [train.texts[i] for i in pos]
        tfidf = LanguageTfidf.fit(texts, analyzer="auto", min_df=1)
        chosen = memo(tfidf.transform(texts), Y[pos], sel.rows(pos).with_grid(FIRST_TIER_GRID))
        held = test.by_language().get(lang)
        if held is not None:
            P = chosen.model.predict_proba(tfidf.transform([test.texts[i] for i in held]))
            pred[held] = [space.classes[j] for j in P.argmax(axis=1)]
    return list(pred)


def run_gfun(block: dict[str, Any], train: Corpus, test: Corpus, seed: int) -> tuple[list[str], dict[str, Any]]:
    enc = build_component("encoder", {"type": "gfun", **block, "seed": seed}, require_state=False)
    enc.fit(train.records(), train.labels, groups=train.groups)
    return enc.predict(test.records()), enc.selected_


def evaluate(name: str, train: Corpus, test: Corpus, seed: int, memo: SelectionMemo) -> dict[str, Any]:
    t0 = time.perf_counter()
    block = SYSTEMS[name]
    selected = None
    if block is None:
        pred = run_baseline(name, train, test, seed, memo)
    else:
        pred, selected = run_gfun(block, train, test, seed)
    seconds = time.perf_counter() - t0
    per_lang = {lang: f1_macro([test.labels[i] for i in pos], [pred[i] for i in pos])
                for lang, pos in test.by_language().items()}
    out = {"per_language": per_lang, "mean_macro_f1": float(np.mean(list(per_lang.values()))), "seconds": seconds}
    if selected is not None:
        out["selected"] = selected
    return out


# ---- aggregation over seeds ---------------------------------------------------------------
def summarize(runs: list[dict[str, Any]], low: str | None = None) -> dict[str, Any]:
    """Mean and standard deviation (over seeds) of the mean macro-F1, per-language means."""
    means = [r["mean_macro_f1"] for r in runs]
    langs = list(runs[0]["per_language"])
    out = {
        "mean_macro_f1": float(np.mean(means)),
        "std": float(np.std(means, ddof=1)) if len(means) > 1 else 0.0,
        "per_language": {lang: float(np.mean([r["per_language"][lang] for r in runs])) for lang in langs},
        "per_seed": runs,
    }
    if low is not None:
        lows = [r["per_language"][low] for r in runs]
        out["low_language"] = {"macro_f1": float(np.mean(lows)), "std": float(np.std(lows, ddof=1)) if len(lows) > 1 else 0.0}
    return out


def lolo_summary(per_seed: list[dict[str, float]]) -> dict[str, Any]:
    """``per_seed``: one ``{left-out language: macro-F1}`` per seed."""
    means = [float(np.mean(list(s.values()))) for s in per_seed]
    return {
        "mean_macro_f1": float(np.mean(means)),
        "std": float(np.std(means, ddof=1)) if len(means) > 1 else 0.0,
        "per_language": {lang: float(np.mean([s[lang] for s in per_seed])) for lang in per_seed[0]},
        "per_seed": per_seed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--low-resource-lang", default="deu_Latn", choices=LANGS)
    parser.add_argument("--low-resource-n", type=int, default=50)
    parser.add_argument("--no-lolo", action="store_true", help="skip the leave-one-language-out runs")
    parser.add_argument("--from-json", action="store_true", help="re-print and re-plot the saved results")
    parser.add_argument("--markdown", action="store_true", help="with --from-json: print the docs tables")
    args = parser.parse_args()
    path = RESULTS / "gfun_sib200.json"
    if args.from_json:
        saved = json.loads(path.read_text())
        if args.markdown:
            print(markdown_tables(saved))
            return
        print_tables(saved, SYSTEMS, LOLO_SYSTEMS)
        saved["meta"]["verdict"] = verdicts(saved, SINGLE_VIEWS, BASELINE)
        print("\n" + "\n".join(saved["meta"]["verdict"]))
        path.write_text(json.dumps(saved, indent=2))
        plot(saved, path.with_suffix(".png"))
        return
    warnings.simplefilter("ignore", UserWarning)  # unseen-language warnings are the point of (c)
    low, t_start = args.low_resource_lang, time.perf_counter()
    print("USE vectors (cache: runs/gfun_sib200/) ...", flush=True)
    cached_use_plugin()
    train, test = load_corpus("train"), load_corpus("test")
    memo = SelectionMemo().install()
    runs: dict[str, dict[str, list]] = {"multilingual": {}, "low_resource": {}}
    lolo: dict[str, list[dict[str, float]]] = {name: [] for name in LOLO_SYSTEMS}
    cold_fit = None
    for seed in args.seeds:
        low_train = train.subsample(low, args.low_resource_n, seed)
        for setting, data in (("multilingual", train), ("low_resource", low_train)):
            for name in SYSTEMS:
                r = evaluate(name, data, test, seed, memo)
                cold_fit = cold_fit or r["seconds"]
                runs[setting].setdefault(name, []).append(r)
                print(f"  seed {seed} {setting:13} {name:34} macro-F1 {r['mean_macro_f1']:.4f} ({r['seconds']:.1f}s)",
                      flush=True)
        if args.no_lolo:
            continue
        for lang in LANGS:
            held_out, rest = test.only(lang), train.without(lang)
            for name in LOLO_SYSTEMS:
                r = evaluate(name, rest, held_out, seed, memo)
                if len(lolo[name]) <= args.seeds.index(seed):
                    lolo[name].append({})
                lolo[name][-1][lang] = r["per_language"][lang]
            print(f"  seed {seed} left out {lang}: " + ", ".join(f"{n} {lolo[n][-1][lang]:.4f}" for n in LOLO_SYSTEMS),
                  flush=True)
    results: dict[str, Any] = {
        "multilingual": {n: summarize(r) for n, r in runs["multilingual"].items()},
        "low_resource": {n: summarize(r, low) for n, r in runs["low_resource"].items()},
    }
    if not args.no_lolo:
        results["lolo"] = {n: lolo_summary(s) for n, s in lolo.items()}
    from embedspec_gfun.selection import FIRST_TIER_GRID, MAPPING_GRID, META_GRID

    results["meta"] = {
        "command": "python benchmarks/gfun_sib200.py --seeds " + " ".join(map(str, args.seeds))
        + f" --low-resource-lang {low} --low-resource-n {args.low_resource_n}" + (" --no-lolo" if args.no_lolo else ""),
        "machine": machine(), "seeds": args.seeds, "low_resource_lang": low, "low_resource_n": args.low_resource_n,
        "grids": {"C (first tier)": FIRST_TIER_GRID, "map_C (recasting)": MAPPING_GRID, "meta_C": META_GRID},
        "selection": "5-fold CV on train, folds grouped by SIB-200 index_id, macro-F1 of out-of-fold predictions",
        "systems": SYSTEMS, "cold_fit_seconds": cold_fit, "memo": memo.stats(),
        "total_seconds": time.perf_counter() - t_start,
    }
    print_tables(results, SYSTEMS, LOLO_SYSTEMS)
    results["meta"]["verdict"] = verdicts(results, SINGLE_VIEWS, BASELINE)
    print("\n" + "\n".join(results["meta"]["verdict"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    plot(results, path.with_suffix(".png"))
    print(f"wrote {path} and gfun_sib200.png in {results['meta']['total_seconds']:.0f}s")


if __name__ == "__main__":
    main()
