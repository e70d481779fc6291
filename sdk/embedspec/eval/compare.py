"""Several pipelines on one BEIR split: a markdown table and a PNG (quality vs size, vs latency).

Pipelines that share an encoder block encode the corpus and the queries once (``EmbeddingCache``);
each then runs its own compressors and index. Plots need matplotlib (``pip install embedspec[eval]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import EmbedspecError, SpecError
from ..storage import atomic_write_bytes, write_json
from .beir import BeirDataset
from .encoding import CachingEncoder, EmbeddingCache
from .retrieval import RetrievalResult, evaluate_retrieval


def compare_specs(
    specs: Sequence[tuple[str, Any]],
    dataset: BeirDataset,
    *,
    cache: EmbeddingCache | None = None,
    on_result: Any = None,
    **kwargs: Any,
) -> list[RetrievalResult]:
    """Evaluate each ``(label, spec)``; every spec is built (validated) before anything is encoded.

    The corpus and the queries are encoded first, once per distinct encoder block (``cache``), so
    every row's speed columns measure its compressors and index, not the encoder. Each pipeline is
    built here and closed here, right after its evaluation.
    """
    from ..pipeline import build

    cache = cache if cache is not None else EmbeddingCache()
    labels = [label for label, _ in specs]
    if len(set(labels)) != len(labels):
        raise EmbedspecError(f"compare needs distinct labels, got {labels}")
    pipelines = []
    closed = 0
    results: list[RetrievalResult] = []
    try:
        for label, spec in specs:
            try:
                pipelines.append(build(spec))
            except SpecError as exc:
                raise SpecError(f"spec {label!r}: {exc}", exc.issues) from None
            except EmbedspecError as exc:
                raise EmbedspecError(f"spec {label!r}: {exc}") from exc
        doc_texts = dataset.documents()[1]
        query_texts = list(dataset.queries.values())
        for pipe in pipelines:  # encode once per encoder block, so that every row measures the same thing
            encoder = CachingEncoder(pipe.encoder, cache)
            encoder.encode(doc_texts, role="document")
            encoder.encode(query_texts, role="query")
        for (label, _), pipe in zip(specs, pipelines):
            try:
                result = evaluate_retrieval(pipe, dataset, label=label, cache=cache, **kwargs)
            finally:
                closed += 1
                pipe.close()  # frees its memory and its index lock before the next row
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results
    finally:
        for pipe in pipelines[closed:]:  # those not evaluated
            pipe.close()


def pareto_front(points: Sequence[tuple[float, float]]) -> list[bool]:
    """For ``(cost, quality)`` points: True where no other point is at most as costly and at least
    as good, and strictly better in one of the two."""
    flags = []
    for i, (c, q) in enumerate(points):
        dominated = any(
            (c2 <= c and q2 >= q) and (c2 < c or q2 > q) for j, (c2, q2) in enumerate(points) if j != i
        )
        flags.append(not dominated)
    return flags


def _stored(result: RetrievalResult) -> int:
    """Bytes held per document in all (results saved before the field existed: what search scans)."""
    stored = result.stored_bytes_per_vector
    return result.bytes_per_vector if stored is None else stored


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown_table(results: Sequence[RetrievalResult], metric: str = "ndcg@10") -> str:
    """One row per pipeline; ratios are against the first row (the baseline)."""
    if not results:
        return ""
    base = results[0]
    front = pareto_front([(r.bytes_per_vector, r.metrics[metric]) for r in results])
    names = list(base.metrics)
    stored_front = pareto_front([(_stored(r), r.metrics[metric]) for r in results])
    head = ["pipeline", *names, f"{metric} vs base", "bytes/vec", "compression", "keeps floats", "stored B/vec",
            "Pareto (stored)", "disk B/vec",
            "docs/s", "queries/s", "p50 ms", "Pareto"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r, on_front, on_stored_front in zip(results, front, stored_front):
        quality = r.metrics[metric] / base.metrics[metric] if base.metrics[metric] else None
        cells = [
            r.label, *(_fmt(r.metrics[m]) for m in names), _fmt(quality, 3), str(r.bytes_per_vector),
            f"{base.bytes_per_vector / r.bytes_per_vector:.1f}x", "yes" if r.rescore else "",
            str(_stored(r)), "yes" if on_stored_front else "", _fmt(r.disk_bytes_per_vector, 1),
            _fmt(r.encode_docs_per_s, 1), _fmt(r.queries_per_s, 1), _fmt(r.latency_p50_ms, 3),
            "yes" if on_front else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _label_lifts(points: Sequence[tuple[float, float]]) -> list[int]:
    """Label lines to move each point's label up (or down, when negative) so that nearby labels do not overlap."""
    xs = [math.log2(max(x, 1e-9)) for x, _ in points]
    ys = [y for _, y in points]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    placed: list[tuple[float, float]] = []
    lifts = []
    for x, y in zip(xs, ys):
        nx, ny = (x - min(xs)) / span_x, (y - min(ys)) / span_y
        for lift in (0, 1, -1, 2, -2, 3, -3, 4, -4):  # above the point first, then below, alternating
            if not any(abs(nx - px) < 0.2 and abs(ny + 0.031 * lift - py) < 0.04 for px, py in placed):
                break
        placed.append((nx, ny + 0.031 * lift))
        lifts.append(lift)
    return lifts


def plot_comparison(results: Sequence[RetrievalResult], path: str | Path, metric: str = "ndcg@10",
                    title: str = "") -> Path:
    """PNG with three panels, each with its Pareto front: ``metric`` vs the bytes per vector search
    scans, vs the bytes held in all (a rescoring quantizer keeps the float originals), vs p50 latency."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise EmbedspecError("plots need matplotlib: pip install 'embedspec[eval]'") from None
    fig = Figure(figsize=(18, 5), dpi=120)
    FigureCanvasAgg(fig)
    panels = (("bytes_per_vector", "bytes per vector that search scans (log scale)"),
              ("stored", "bytes per vector held in all: with kept originals (log scale)"),
              ("latency_p50_ms", "query latency p50, ms (log scale)"))
    for ax, (attr, xlabel) in zip(fig.subplots(1, 3), panels):
        pts = [(float(_stored(r) if attr == "stored" else getattr(r, attr)), r.metrics[metric]) for r in results]
        front = pareto_front(pts)
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=["tab:red" if f else "tab:blue" for f in front],
                   zorder=3)
        for r, (x, y), lift in zip(results, pts, _label_lifts(pts)):
            ax.annotate(r.label, (x, y), textcoords="offset points", xytext=(4, 4 + 9 * lift), fontsize=8)
        frontier = sorted(p for p, f in zip(pts, front) if f)
        if frontier:
            ax.step([p[0] for p in frontier], [p[1] for p in frontier], where="post", color="tab:red",
                    alpha=0.6, label="Pareto front")
            ax.legend(loc="lower right")
        ax.set_xscale("log", base=2)
        ax.margins(x=0.08, y=0.12)  # room for the stacked labels
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def write_comparison(results: Sequence[RetrievalResult], out_dir: str | Path, *, name: str = "compare",
                     metric: str = "ndcg@10", title: str = "", extra: Mapping[str, Any] | None = None,
                     plot: bool = True) -> dict[str, Path]:
    """Write ``<name>.md``, ``<name>.json`` and (with matplotlib) ``<name>.png`` into ``out_dir``."""
    out = Path(out_dir)
    paths = {"markdown": out / f"{name}.md", "json": out / f"{name}.json"}
    heading = f"# {title}\n\n" if title else ""
    atomic_write_bytes(paths["markdown"], (heading + markdown_table(results, metric)).encode())
    write_json(paths["json"], {**(extra or {}), "results": [r.to_dict() for r in results]})
    if plot:
        paths["png"] = plot_comparison(results, out / f"{name}.png", metric, title)
    return paths
