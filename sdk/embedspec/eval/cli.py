"""``embedspec eval`` and ``embedspec compare`` (attached to the ``embedspec`` group by ``embedspec.cli``)."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import EmbedspecError

T = TypeVar("T")


def _run(step: Callable[[], T]) -> T:
    """Run ``step``; dataset warnings go to stderr, embedspec errors exit 1 with their message."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = step()
        except EmbedspecError as exc:
            _echo_warnings(caught)
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    _echo_warnings(caught)
    return result


def _echo_warnings(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)


def _command_line() -> str:
    """The current command rebuilt from its parsed parameters (for reports)."""
    ctx = click.get_current_context()
    parts = ["embedspec", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if isinstance(param, click.Argument):
            parts += [str(v) for v in value] if isinstance(value, tuple) else [str(value)]
        elif value not in (None, False, (), param.default):
            parts += [param.opts[0]] + ([] if value is True else [str(value)])
    return " ".join(parts)


def _load_beir(path: str, split: str, limit: int | None) -> Any:
    from .beir import load_beir

    dataset = load_beir(path, split)
    return dataset.limit_queries(limit) if limit else dataset


def _metrics(value: str) -> list[str]:
    from .metrics import parse_metric

    names = [m.strip().lower() for m in value.split(",") if m.strip()]
    try:
        for name in names:
            parse_metric(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--metrics") from None
    return names


def _retrieval_report(result: Any, command: str) -> str:
    import yaml

    rows = [f"| {name} | {value:.4f} |" for name, value in result.metrics.items()]
    disk = "n/a" if result.disk_bytes_per_vector is None else f"{result.disk_bytes_per_vector:.1f}"
    docs_s = "n/a" if result.encode_docs_per_s is None else f"{result.encode_docs_per_s:.1f}"
    rows += [
        f"| bytes per vector (what search scans) | {result.bytes_per_vector} |",
        f"| bytes per vector held in all (with kept originals) | {result.stored_bytes_per_vector} |",
        f"| bytes per vector on disk | {disk} |",
        f"| encode throughput (docs/s) | {docs_s} |",
        f"| query throughput (queries/s, batched) | {result.queries_per_s:.1f} |",
        f"| query latency p50 / p95 (ms) | {result.latency_p50_ms:.2f} / {result.latency_p95_ms:.2f} |",
    ]
    return (f"# Retrieval evaluation: {result.dataset}\n\n```\n{command}\n```\n\n| metric | value |\n|---|---|\n"
            + "\n".join(rows) + f"\n\nSpec:\n\n```yaml\n{yaml.safe_dump(result.spec, sort_keys=False)}```\n")


def _generic_report(result: dict[str, Any], command: str) -> str:
    import yaml

    skip = {"spec", "probe"}
    rows = [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
            for k, v in result.items() if k not in skip]
    return (f"# {result['task'].capitalize()} evaluation\n\n```\n{command}\n```\n\n| field | value |\n|---|---|\n"
            + "\n".join(rows) + f"\n\nSpec:\n\n```yaml\n{yaml.safe_dump(result['spec'], sort_keys=False)}```\n")


@click.command("eval")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--beir", "beir_dir", type=click.Path(file_okay=False), help="BEIR folder: retrieval evaluation.")
@click.option("--pairs", "pairs_file", type=click.Path(dir_okay=False),
              help="TSV/CSV with sentence1, sentence2, score: Spearman/Pearson of cosine vs gold.")
@click.option("--classification", "cls_dir", type=click.Path(file_okay=False),
              help="Folder with train.tsv and test.tsv (text, label): linear probe macro/micro-F1.")
@click.option("--split", default="test", show_default=True, help="BEIR qrels split.")
@click.option("--metrics", "metric_names", default="ndcg@10,recall@10,recall@100,mrr@10", show_default=True,
              help="Comma-separated ndcg@K, recall@K, precision@K, mrr@K.")
@click.option("--limit-queries", type=click.IntRange(min=1), help="Evaluate only the first N judged queries.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Folder keeping the encoder's vectors between runs (BEIR only); latency then excludes encoding.")
@click.option("--keep-identical-ids", is_flag=True,
              help="Score a retrieved document whose id equals the query id (BEIR drops it by default).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the results as JSON.")
@click.option("--report", "report_out", type=click.Path(dir_okay=False), help="Write a markdown report.")
@click.option("--no-progress", "--quiet", "-q", "no_progress", is_flag=True,
              help="No progress bar or progress lines (EMBEDSPEC_PROGRESS=0 does the same).")
def eval_command(spec: str, beir_dir: str | None, pairs_file: str | None, cls_dir: str | None, split: str,
                 metric_names: str, limit_queries: int | None, batch_size: int, cache_dir: str | None,
                 keep_identical_ids: bool, json_out: str | None, report_out: str | None, no_progress: bool) -> None:
    """Evaluate the pipeline of SPEC on a BEIR folder, sentence pairs, or a classification folder."""
    chosen = [name for name, v in (("--beir", beir_dir), ("--pairs", pairs_file), ("--classification", cls_dir)) if v]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --beir DIR, --pairs FILE, --classification DIR"
                               + (f" (got {', '.join(chosen)})" if chosen else ""))
    from ..pipeline import build
    from .classification import evaluate_classification
    from .encoding import EmbeddingCache
    from .retrieval import evaluate_retrieval
    from .similarity import evaluate_pairs

    command = _command_line()
    if beir_dir:
        metrics = _metrics(metric_names)
        dataset = _run(lambda: _load_beir(beir_dir, split, limit_queries))
        click.echo(dataset.summary(), err=True)
        cache = _run(lambda: EmbeddingCache.load(cache_dir)) if cache_dir else None
        pipe = _run(lambda: build(spec))
        try:
            result = _run(lambda: evaluate_retrieval(pipe, dataset, metrics=metrics, label=Path(spec).stem,
                                                     cache=cache, batch_size=batch_size,
                                                     ignore_identical_ids=not keep_identical_ids,
                                                     progress=False if no_progress else None))
        finally:
            pipe.close()  # the command built it: the command closes it
        if cache is not None:
            cache.save(cache_dir)
        for name, value in result.metrics.items():
            click.echo(f"{name:<14}{value:.4f}")
        click.echo(f"{'bytes/vector':<14}{result.bytes_per_vector}")
        if result.stored_bytes_per_vector is not None and result.stored_bytes_per_vector != result.bytes_per_vector:
            click.echo(f"{'stored B/vec':<14}{result.stored_bytes_per_vector} (with what re-ranking keeps)")
        if result.encode_docs_per_s:
            click.echo(f"{'docs/s':<14}{result.encode_docs_per_s:.1f}")
        click.echo(f"{'queries/s':<14}{result.queries_per_s:.1f}")
        click.echo(f"{'p50 ms':<14}{result.latency_p50_ms:.2f}")
        payload: dict[str, Any] = {"task": "retrieval", **result.to_dict()}
        report = _retrieval_report(result, command)
    else:
        pipe = _run(lambda: build(spec))
        try:
            if pairs_file:
                payload = _run(lambda: evaluate_pairs(pipe, pairs_file, batch_size=batch_size))
            else:
                payload = _run(lambda: evaluate_classification(pipe, cls_dir, batch_size=batch_size))
        finally:
            pipe.close()
        if pairs_file:
            click.echo(f"spearman      {payload['spearman']:.4f}\npearson       {payload['pearson']:.4f}")
        else:
            click.echo(f"macro_f1      {payload['macro_f1']:.4f}\nmicro_f1      {payload['micro_f1']:.4f}")
        report = _generic_report(payload, command)
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if report_out:
        Path(report_out).parent.mkdir(parents=True, exist_ok=True)
        Path(report_out).write_text(report, encoding="utf-8")


def _labels(specs: tuple[str, ...]) -> list[str]:
    stems = [Path(s).stem for s in specs]
    return [stem if stems.count(stem) == 1 else f"{Path(s).parent.name}/{stem}" for s, stem in zip(specs, stems)]


@click.command("compare")
@click.argument("specs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--beir", "beir_dir", required=True, type=click.Path(file_okay=False), help="BEIR folder.")
@click.option("--split", default="test", show_default=True)
@click.option("--metric", default="ndcg@10", show_default=True, help="Quality metric of the table ratios and plot.")
@click.option("--limit-queries", type=click.IntRange(min=1))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="runs/compare", show_default=True,
              help="Folder for compare.md, compare.json and compare.png.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Folder keeping the encoders' vectors between runs.")
@click.option("--no-plot", is_flag=True, help="Skip the PNG (no matplotlib needed).")
@click.option("--no-progress", "--quiet", "-q", "no_progress", is_flag=True,
              help="No progress bar or progress lines (EMBEDSPEC_PROGRESS=0 does the same).")
def compare_command(specs: tuple[str, ...], beir_dir: str, split: str, metric: str, limit_queries: int | None,
                    out_dir: str, cache_dir: str | None, no_plot: bool, no_progress: bool) -> None:
    """Evaluate several SPECs on one BEIR split; pipelines sharing an encoder encode once."""
    from .compare import compare_specs, write_comparison
    from .encoding import EmbeddingCache
    from .metrics import DEFAULT_RETRIEVAL_METRICS

    metrics = list(dict.fromkeys([*_metrics(metric), *DEFAULT_RETRIEVAL_METRICS]))
    dataset = _run(lambda: _load_beir(beir_dir, split, limit_queries))
    click.echo(dataset.summary(), err=True)

    def progress(result: Any) -> None:
        click.echo(f"{result.label}: {metric} {result.metrics[metric]:.4f}, "
                   f"{result.bytes_per_vector} B/vec, p50 {result.latency_p50_ms:.2f} ms", err=True)

    cache = _run(lambda: EmbeddingCache.load(cache_dir)) if cache_dir else EmbeddingCache()
    results = _run(lambda: compare_specs(list(zip(_labels(specs), specs)), dataset, metrics=metrics, cache=cache,
                                         on_result=progress, progress=False if no_progress else None))
    if cache_dir:
        cache.save(cache_dir)
    paths = _run(lambda: write_comparison(results, out_dir, metric=metric, plot=not no_plot,
                                          title=f"{dataset.summary()}",
                                          extra={"command": _command_line()}))
    click.echo(Path(paths["markdown"]).read_text(encoding="utf-8"))
    for kind, path in paths.items():
        click.echo(f"wrote {kind}: {path}", err=True)
