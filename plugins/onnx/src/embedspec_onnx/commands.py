"""CLI commands added to ``embedspec``: ``export``, ``models`` and ``doctor``."""

from __future__ import annotations

import json

import click


@click.command("export")
@click.argument("src")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--family", default=None, help="model family (see `embedspec models`); guessed from the name")
@click.option("--name", default=None, help="model name recorded in embedspec.json (default: SRC)")
@click.option("--quantize", type=click.Choice(["int8"]), default=None, help="also write model_int8.onnx")
@click.option("--int8-method", type=click.Choice(["dynamic", "dynamic-ffn-fp32", "blockwise"]), default="dynamic",
              show_default=True, help="int8 recipe: fastest / FFN outputs fp32 / MatMulNBits (see docs/onnx.md)")
@click.option("--optimize", type=click.Choice(["O1", "O2"]), default=None, help="ONNX Runtime graph optimization")
@click.option("--fp16", is_flag=True, help="also write model_fp16.onnx (for GPUs)")
@click.option("--max-length", type=int, default=None, help="tokens per input (default: the model's)")
@click.option("--tolerance", type=float, default=1e-4, show_default=True,
              help="max abs difference allowed between ONNX and the source model")
@click.option("--overwrite", is_flag=True, help="replace OUT if it exists")
@click.option("--tokens", is_flag=True, help="also verify per-token vectors (output: tokens) and carry the "
              "checkpoint's ColBERT-style linear projection (1_Dense/ or linear.weight) when it has one")
@click.option("--projection", type=click.Path(dir_okay=False), default=None,
              help="token projection weights (.npz or .safetensors: weight (out, hidden) [, bias])")
@click.option("--sparse", is_flag=True, help="export the masked-LM head (fill-mask logits) for output: sparse "
              "(SPLADE), verified against transformers' AutoModelForMaskedLM")
@click.option("--layers", "layers_text", default=None, metavar="N[,N...]",
              help="also write graphs that stop after these layers (spec: layers: N), each verified against "
                   "the source's hidden state N (cosine >= 0.9999)")
@click.option("--add", is_flag=True, help="with --layers: add the depths to the existing model directory OUT "
                                          "(exported from SRC) instead of exporting it")
def export_command(src: str, out: str, family: str | None, name: str | None, quantize: str | None,
                   int8_method: str, optimize: str | None, fp16: bool, max_length: int | None, tolerance: float,
                   overwrite: bool, tokens: bool, projection: str | None, sparse: bool, layers_text: str | None, add: bool) -> None:
    """Export SRC (a local Hugging Face checkpoint or hub id) to the model directory OUT, verified."""
    from pathlib import Path

    from embedspec.errors import EmbedspecError

    from .clip.export import FAMILIES as CLIP_FAMILIES
    from .clip.export import checkpoint_family, export_clip
    from .common.hub import require_hub
    from .text.export import export_model

    layers = _layer_list(layers_text)
    if add and not layers:
        raise click.UsageError("--add needs --layers")
    try:
        if add:
            _add_depths(out, src, layers, quantize, int8_method)
            return
        if not Path(src).expanduser().exists():  # a hub id: fail fast and clearly when offline
            require_hub(f"exporting {src!r} (not a folder on this machine)")
        if family in CLIP_FAMILIES or (family is None and checkpoint_family(src)):
            if quantize or fp16 or optimize or max_length or layers:
                raise click.ClickException(
                    "--quantize/--fp16/--optimize/--max-length/--layers do not apply to CLIP-style models yet")
            clip_card = export_clip(src, out, atol=tolerance, overwrite=overwrite, name=name)
            click.echo(f"exported {clip_card.name} ({clip_card.family}, {clip_card.dim}-d, text+image) to {out}")
            click.echo(f"verified against the source model: max abs difference "
                       f"{clip_card.export.verified_max_abs_diff:.2e}")
            return
        card = export_model(src, out, family=family, name=name, quantize=quantize, int8_method=int8_method,
                            optimize=optimize,
                            fp16=fp16, max_length=max_length, tolerance=tolerance, overwrite=overwrite,
                            tokens=tokens, projection=projection, sparse=sparse)
        if layers:
            _add_depths(out, src, layers, quantize, int8_method)
    except (EmbedspecError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    info = card.export
    if card.head == "mlm":
        click.echo(f"exported {card.name} ({card.family}, masked-LM head, {card.vocab_size} vocabulary) to {out}")
    else:
        click.echo(f"exported {card.name} ({card.family}, {card.dim}-d, {card.pooling} pooling) to {out}")
    click.echo(f"verified against the source model: max abs difference {info.verified_max_abs_diff:.2e}")
    if getattr(info, "verified_tokens_max_abs_diff", None) is not None:
        what = f"projected to {card.token_dim}-d" if card.token_dim else "no projection"
        click.echo(f"token vectors ({what}): max abs difference {info.verified_tokens_max_abs_diff:.2e}")
    if info.int8_mean_cosine is not None:
        click.echo(f"int8: mean cosine to fp32 {info.int8_mean_cosine:.4f} (min {info.int8_min_cosine:.4f})")


def _layer_list(text: str | None) -> list[int]:
    if text is None:
        return []
    try:
        layers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"a comma-separated list of layer counts, e.g. 2,3,4; not {text!r}",
                                 param_hint="--layers") from None
    if not layers:
        raise click.BadParameter("give at least one layer count, e.g. 3", param_hint="--layers")
    return layers


def _add_depths(out: str, src: str, layers: list[int], quantize: str | None, int8_method: str) -> None:
    from .text.depth import add_depths

    cosines = add_depths(out, src, layers, quantize=quantize, int8_method=int8_method)
    for n, cosine in cosines.items():
        extra = " (+ int8)" if quantize else ""
        click.echo(f"added the {n}-layer graph{extra} to {out}: smallest cosine to the source's hidden state {n} "
                   f"{cosine:.6f}")


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="print the catalogue as JSON")
def models_command(as_json: bool) -> None:
    """List the model catalogue of embedspec-onnx (families, dims, prompts)."""
    from .text.catalogue import CATALOGUE, FAMILIES

    if as_json:
        click.echo(json.dumps({
            "families": {k: f.model_dump() for k, f in FAMILIES.items()},
            "models": [dict(e.model_dump(), **{"card": e.card().model_dump(exclude={"files", "export"})})
                       for e in CATALOGUE.values()],
        }, indent=2, ensure_ascii=False))
        return
    rows = [(e.name, e.family, str(e.dim), FAMILIES[e.family].pooling, str(e.max_length),
             ",".join(map(str, e.matryoshka_dims)) or "-") for e in CATALOGUE.values()]
    head = ("model", "family", "dim", "pooling", "max_len", "matryoshka")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    click.echo("\nfamilies: " + "; ".join(f"{f.name}: {f.description}" for f in FAMILIES.values()))


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              help="show the settings for this threads: value (default: as a spec without threads:)")
def doctor_command(as_json: bool, threads: int | None) -> None:
    """What this machine offers inference: CPU, ISA features, onnxruntime and its providers, threads."""
    from .common.doctor import inference_report, render

    report = inference_report(threads)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for line in render(report):
        click.echo(line)
