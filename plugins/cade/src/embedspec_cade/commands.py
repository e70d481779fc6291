"""``embedspec cade train | neighbours | change``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def read_slice(path: Path, name: str) -> list[str]:
    """A slice's texts: each non-empty line of a file, or each ``*.txt`` file of a directory."""
    from .errors import CorpusError

    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise CorpusError(f"slice {name!r}: directory {path} holds no .txt file")
        return [f.read_text(encoding="utf-8", errors="replace") for f in files]
    if not path.is_file():
        raise CorpusError(f"slice {name!r}: {path} does not exist")
    return [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]


def parse_slices(values: tuple[str, ...], base: Path = Path(".")) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{value!r}: write NAME=PATH", param_hint="--slice")
        if name in out:
            raise click.BadParameter(f"slice {name!r} is given twice", param_hint="--slice")
        out[name] = base / path
    return out


def training_spec(spec: str | None, slices: tuple[str, ...], overrides: dict[str, Any]) -> tuple[dict[str, Path], dict]:
    """Slices and settings from ``--spec FILE`` (YAML: ``slices: {name: path}`` plus settings), then options."""
    import yaml

    from .settings import CadeSettings

    settings: dict[str, Any] = {}
    paths: dict[str, Path] = {}
    if spec:
        file = Path(spec)
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not isinstance(data.get("slices", {}), dict):
            raise click.BadParameter(f"{spec}: expected a mapping with `slices: {{name: path}}`", param_hint="--spec")
        raw = data.pop("slices", {})
        paths = parse_slices(tuple(f"{k}={v}" for k, v in raw.items()), base=file.parent)
        settings.update(data)
    for name, path in parse_slices(slices).items():
        paths[name] = path
    settings.update({k: v for k, v in overrides.items() if v is not None})
    CadeSettings(**settings)  # a ValidationError names the bad field before any work starts
    if not paths:
        raise click.UsageError("give the slices: --slice NAME=PATH (at least one) or --spec FILE")
    return paths, settings


@click.group("cade")
def cade_group() -> None:
    """CADE: word embeddings of several corpora (periods, communities) in one space."""


@cade_group.command("train")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--slice", "slices", multiple=True, metavar="NAME=PATH",
              help="a slice: a text file (one text per line) or a directory of .txt files; repeat")
@click.option("--spec", type=click.Path(dir_okay=False, exists=True), help="YAML: slices: {name: path} and settings")
@click.option("--dim", type=int, help="vector dimension [100]")
@click.option("--window", type=int, help="context words on each side [5]")
@click.option("--min-count", type=int, help="ignore words seen fewer times (union and each slice) [5]")
@click.option("--epochs", type=int, help="passes over the union and over each slice [5]")
@click.option("--negative", type=int, help="negative samples [10]")
@click.option("--sample", type=float, help="downsampling threshold [0.001]")
@click.option("--seed", type=int, help="random seed [0]")
@click.option("--slice-init", type=click.Choice(["random", "compass"]),
              help="slice word vectors start random or at the compass's vectors [random]")
@click.option("--overwrite", is_flag=True, help="replace OUT if it holds a CADE state")
def train_command(out: str, slices: tuple[str, ...], spec: str | None, overwrite: bool, **overrides: Any) -> None:
    """Train the compass on all slices, then each slice against it; save to OUT."""
    from pydantic import ValidationError

    from .model import CadeModel
    from .state import is_state

    try:
        paths, settings = training_spec(spec, slices, overrides)
    except ValidationError as exc:
        raise click.BadParameter(_first_error(exc)) from None
    target = Path(out)
    if target.exists() and is_state(target) and not overwrite:
        raise click.ClickException(f"{out} already holds a CADE state; pass --overwrite to replace it")
    texts = {name: read_slice(path, name) for name, path in paths.items()}
    model = CadeModel(**settings).fit(texts)
    model.save(target)
    rep = model.reports_
    click.echo(f"compass: {len(model.compass_):,} words, {rep['compass']['tokens']:,} tokens, "
               f"{rep['compass']['words_per_second']:,.0f} words/s (gensim)")
    for name, sv in model.slices_.items():
        click.echo(f"slice {name}: {len(sv):,} words, {rep[name]['tokens']:,} tokens, "
                   f"{rep[name]['words_per_second']:,.0f} words/s (context frozen)")
    click.echo(f"saved to {out} ({model.dim}-d, compass {model.fingerprint})")


@cade_group.command("neighbours")
@click.argument("state", type=click.Path(file_okay=False))
@click.argument("word")
@click.option("--slice", "slice_names", multiple=True, help="slices to search (default: all, then the compass)")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="only neighbours seen this often in the slice")
@click.option("--json", "as_json", is_flag=True)
def neighbours_command(state: str, word: str, slice_names: tuple[str, ...], k: int, min_count: int,
                       as_json: bool) -> None:
    """Nearest neighbours of WORD in each slice of the CADE model at STATE."""
    from .analysis import neighbours
    from .errors import UnknownWordError
    from .model import CadeModel

    spaces = CadeModel.load(state).spaces()
    names = list(slice_names) or list(spaces)
    result: dict[str, Any] = {}
    for name in names:
        space = spaces[name]
        try:
            result[name] = [{"word": n.word, "cosine": round(n.similarity, 4), "count": n.count}
                            for n in neighbours(space, word, k=k, min_count=min_count)]
        except UnknownWordError as exc:
            if slice_names:
                raise
            result[name] = str(exc)
    if all(isinstance(v, str) for v in result.values()):
        raise UnknownWordError(f"word {word!r} is in none of the slices {', '.join(map(repr, names))}",
                               word=word, slice=names[0])
    if as_json:
        click.echo(json.dumps({"word": word, "neighbours": result}, indent=2, ensure_ascii=False))
        return
    for name, rows in result.items():
        if isinstance(rows, str):
            click.echo(f"{name}: -- ({rows})")
        else:
            click.echo(f"{name} ({spaces[name].count(word)}x): " + ", ".join(f"{r['word']} {r['cosine']:.2f}" for r in rows))


@cade_group.command("change")
@click.argument("state", type=click.Path(file_okay=False))
@click.argument("a")
@click.argument("b")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--measure", type=click.Choice(["cosine", "overlap"]), default="cosine", show_default=True)
@click.option("--min-count", type=click.IntRange(min=1), default=20, show_default=True,
              help="only words seen this often in both slices")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="neighbours compared by the overlap measure (and listed)")
@click.option("--word", "words", multiple=True, help="score these words instead of listing the top")
@click.option("--json", "as_json", is_flag=True)
def change_command(state: str, a: str, b: str, top: int, measure: str, min_count: int, k: int,
                   words: tuple[str, ...], as_json: bool) -> None:
    """Words whose use changed most from slice A to slice B, with their neighbours in each."""
    from .analysis import change_scores, neighbours
    from .errors import UnknownWordError
    from .model import CadeModel

    spaces = CadeModel.load(state).spaces()
    sa, sb = spaces[a], spaces[b]
    table = change_scores(sa, sb, min_count=min_count, k=k)
    if words:
        where = {w: i for i, w in enumerate(table.words)}
        for w in words:
            if w not in where:
                slice_name = a if sa.count(w) < min_count else b
                raise UnknownWordError(
                    f"word {w!r} is not seen {min_count} times in slice {slice_name!r} "
                    f"({sa.count(w)} in {a!r}, {sb.count(w)} in {b!r}); lower --min-count", word=w, slice=slice_name)
        rows = [table.row(where[w]) for w in words]
    else:
        rows = table.top(top, measure)
    for row in rows:
        row[f"neighbours_{a}"] = [n.word for n in neighbours(sa, row["word"], k=k, min_count=min_count)]
        row[f"neighbours_{b}"] = [n.word for n in neighbours(sb, row["word"], k=k, min_count=min_count)]
    if as_json:
        click.echo(json.dumps({"a": a, "b": b, "measure": measure, "min_count": min_count, "k": table.k,
                               "words_scored": len(table.words), "rows": rows}, indent=2, ensure_ascii=False))
        return
    click.echo(f"{len(table.words):,} words seen {min_count}+ times in both {a!r} and {b!r}; ranked by {measure}")
    for row in rows:
        click.echo(f"{row['word']}: cosine distance {row['cosine']:.3f}, neighbour overlap change {row['overlap']:.2f} "
                   f"({row[f'count_{a}']}x / {row[f'count_{b}']}x)")
        click.echo(f"  {a}: {', '.join(row[f'neighbours_{a}'])}")
        click.echo(f"  {b}: {', '.join(row[f'neighbours_{b}'])}")


def _first_error(exc: Any) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err.get("loc", ())) or "settings"
    return f"{loc}: {err.get('msg')}"
