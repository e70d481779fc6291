"""The ``embedspec`` command: plugins, validate, schema, index, search (+ commands plugins add)."""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any

import click

from .base import MAX_K
from .corpus import MAX_RECORD_BYTES, check_jsonl, read_jsonl
from .errors import DatasetError, EmbedspecError, PartialWriteError, SpecError

#: Errors that are the user's (or the machine's), not embedspec's: one line and a hint, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (EmbedspecError, OSError, ValueError, TypeError, KeyError, LookupError)


def _hint(exc: BaseException) -> str | None:
    if isinstance(exc, SpecError):
        return "fix the spec, then check it with `embedspec validate SPEC`"
    if isinstance(exc, DatasetError):
        return "fix the file at the line named above; nothing was written"
    if isinstance(exc, OSError) and not isinstance(exc, EmbedspecError):
        return "check the path and its permissions"
    if isinstance(exc, EmbedspecError):
        return None
    return "run again with --debug for the full traceback"


class UserError(click.ClickException):
    """An error of the user's reaching the command line: one ``error:`` line, then a hint."""

    def __init__(self, exc: BaseException) -> None:
        if isinstance(exc, click.ClickException):
            message, hint, code = exc.format_message(), None, exc.exit_code
        else:
            message = str(exc) or type(exc).__name__
            if not isinstance(exc, EmbedspecError):
                message = f"{type(exc).__name__}: {message}"
            hint, code = _hint(exc), 1
        super().__init__(message)
        self.hint = hint
        self.exit_code = code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)
        if self.hint:
            click.echo(f"hint: {self.hint}", err=True)


def _debugging(ctx: click.Context | None) -> bool:
    if os.environ.get("EMBEDSPEC_DEBUG", "") not in ("", "0"):
        return True
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and root.params.get("debug"))


class EmbedspecGroup(click.Group):
    """The command group; its ``invoke`` is the error boundary every command runs inside."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.UsageError, click.exceptions.Exit, click.Abort, UserError):
            raise
        except click.ClickException as exc:
            raise UserError(exc) from exc
        except USER_ERRORS as exc:
            if _debugging(ctx):
                raise
            raise UserError(exc) from exc


@click.group(cls=EmbedspecGroup)
@click.version_option(package_name="embedspec")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug: bool) -> None:
    """embedspec: embedding pipelines from a declarative YAML spec."""


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List installed components; plugins that were refused go to stderr (the exit status stays 0)."""
    from .plugins import broken_plugins, get_registry, plugin_notices, skipped_plugins, take_notices

    take_notices()  # shown below, not warned about again
    rows = [
        {"name": r.name, "kind": r.kind, "plugin": r.plugin, "distribution": r.distribution, "version": r.version}
        for r in get_registry()
    ]
    broken = [{"plugin": b.name, "distribution": b.distribution, "version": b.version, "error": b.error}
              for b in sorted(broken_plugins(), key=lambda b: (b.name, b.distribution or ""))]
    skipped = [{"plugin": s.name, "distribution": s.distribution, "version": s.version, "reason": s.reason}
               for s in skipped_plugins()]
    if as_json:
        payload = {"components": rows, "broken": broken, "skipped": skipped, "warnings": plugin_notices()}
        click.echo(json.dumps(payload, indent=2))
        return
    _echo_table(["KIND", "NAME", "PLUGIN", "DISTRIBUTION", "VERSION"],
                [[r["kind"], r["name"], r["plugin"], r["distribution"], r["version"]] for r in rows])
    if broken:
        click.echo("", err=True)
        _echo_table(["BROKEN PLUGIN", "DISTRIBUTION", "ERROR"],
                    [[b["plugin"], " ".join(filter(None, [b["distribution"], b["version"]])) or "-", b["error"]]
                     for b in broken], err=True)
    for s in skipped:
        click.echo(f"skipped plugin {s['plugin']!r} ({s['distribution']}): {s['reason']}", err=True)
    for message in plugin_notices():
        click.echo(f"warning: {message}", err=True)


def _echo_table(header: list[str], rows: list[list[Any]], *, err: bool = False) -> None:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    for row in cells:
        click.echo("  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[-1]]).rstrip(), err=err)


@cli.command("validate")
@click.argument("spec", type=click.Path(dir_okay=False))
def validate_command(spec: str) -> None:
    """Validate SPEC: structure, fields, what they point at (models, state, index) and the chain.

    Read-only: it creates and modifies nothing. Exits 1 listing every problem, by line.
    """
    from .pipeline import build
    from .plugins import take_notices

    for message in take_notices():  # refused plugins, EMBEDSPEC_PLUGINS* problems: one line each
        click.echo(f"warning: {_one_line(message)}", err=True)
    try:
        pipeline = build(spec, read_only=True, deep_check=True)
    except EmbedspecError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    if pipeline.spec is not None and pipeline.spec.serve is not None:
        from .serve.config import settings_from_block

        try:
            settings_from_block(pipeline.spec.serve, spec)
        except EmbedspecError as exc:
            pipeline.close()
            click.echo(str(exc), err=True)
            sys.exit(1)
    with pipeline:
        index = pipeline.index
        state = _index_state(index)
        click.echo(f"{spec}: valid ({pipeline.outline()}; index {type(index).__name__} "
                   f"at {index.data_location()}: {state})")


def _index_state(index: Any) -> str:
    """A phrase for ``validate``: how much the index holds, or that it will be created."""
    try:
        if not index.exists():
            return "not created yet (`embedspec index` creates it)"
        count = index.count()
    except EmbedspecError as exc:
        return f"not opened ({exc})"
    return f"{count:,} {'vector' if count == 1 else 'vectors'}"


def _one_line(message: str, limit: int = 240) -> str:
    if len(message) <= limit:
        return message
    return message[: limit - 40].rstrip() + " ... (`embedspec plugins` shows it all)"


@cli.command("schema")
@click.option("--markdown", is_flag=True, help="Print the spec reference (markdown) instead of JSON Schema.")
def schema_command(markdown: bool) -> None:
    """Print the JSON Schema of a spec with every installed component (for editors)."""
    from .plugins import get_registry
    from .schema import spec_json_schema, spec_reference_markdown

    if markdown:
        click.echo(spec_reference_markdown(get_registry()), nl=False)
    else:
        click.echo(json.dumps(spec_json_schema(get_registry()), indent=2))


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@cli.command("index")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(exists=True),
              help="JSON lines; each line has the text field, optionally an id and payload fields "
                   "(--engine ray also reads .parquet files or directories and .csv).")
@click.option("--text-field", "text_fields", multiple=True, default=("text",), show_default=True,
              help="Field holding the text; repeat to join several (e.g. title and text) with a space.")
@click.option("--id-field", default="id", show_default=True,
              help="Field holding the id; when no record has it, ids are derived from the content.")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Documents per batch (per actor call with --engine ray).")
@click.option("--max-record-bytes", default=MAX_RECORD_BYTES, show_default=True, type=click.IntRange(1, 2**31),
              help="Longest line accepted, in bytes.")
@click.option("--existing", type=click.Choice(["auto", "skip", "replace"]), default="auto", show_default=True,
              help="Documents whose id the index already holds: skip them (resume) or encode and replace them. "
                   "auto: skip with content ids (same id, same text), replace with ids from the id field.")
@click.option("--flush-every", default=10_000, show_default=True, type=click.IntRange(0, 2**31),
              help="Make the index durable every N documents written (0: only at the end).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), envvar="EMBEDSPEC_CACHE",
              help="Embedding cache directory (SQLite), shared by runs and processes [env: EMBEDSPEC_CACHE].")
@click.option("--cache-max-mb", default=2048, show_default=True, type=click.IntRange(1, 2**31),
              envvar="EMBEDSPEC_CACHE_MAX_MB", help="Size limit of the cache; least recently used vectors go first.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Encode in this process, or on a Ray Data actor pool (pip install 'embedspec[ray]').")
@click.option("--address", default=None, help="Ray cluster to join (e.g. auto, ray://head:10001); default: a local Ray.")
@click.option("--actors", type=click.IntRange(1, 100_000), default=None,
              help="Encoder actors (default: cluster GPUs / --gpus-per-actor, else CPUs / --cpus-per-actor).")
@click.option("--cpus-per-actor", type=click.FloatRange(0.1, 1024), default=None,
              help="CPUs per actor, also its encoder's threads (default: min(4, cluster CPUs)).")
@click.option("--gpus-per-actor", type=click.FloatRange(0, 64), default=0.0, show_default=True)
@click.option("--output-parquet", type=click.Path(file_okay=False), default=None,
              help="With --engine ray: write Parquet files (id, vector, payload) to this directory instead of the index.")
@click.option("--no-progress", "--quiet", "-q", "no_progress", is_flag=True,
              help="No progress bar or progress lines (EMBEDSPEC_PROGRESS=0 does the same).")
def index_command(spec: str, input_path: str, text_fields: tuple[str, ...], id_field: str, batch_size: int,
                  max_record_bytes: int, existing: str, flush_every: int, cache_dir: str | None, cache_max_mb: int,
                  engine: str, address: str | None, actors: int | None, cpus_per_actor: float | None,
                  gpus_per_actor: float, output_parquet: str | None, no_progress: bool) -> None:
    """Encode the documents of --input and store them in SPEC's index (payload: the other fields).

    The whole file is checked first; a problem anywhere writes nothing. Indexing the same documents
    again changes nothing (ids come from the id field, or from the content); an interrupted run,
    run again, skips what the index already holds.
    """
    from .embedding_cache import EmbeddingCache

    if engine == "local" and output_parquet:
        raise click.UsageError("--output-parquet needs --engine ray")
    if engine == "local" and os.path.isdir(input_path):
        raise click.UsageError(f"--input {input_path} is a directory; the local engine reads one JSON lines file")
    summary = None
    if engine == "local" or not input_path.lower().endswith((".parquet", ".csv")) and not os.path.isdir(input_path):
        summary = check_jsonl(input_path, text_fields, id_field, max_record_bytes)
        origin = f"the {id_field!r} field" if summary.explicit_ids else f"the content (no {id_field!r} field)"
        dups = f"; {_plural(summary.duplicates, 'exact duplicate')} indexed once" if summary.duplicates else ""
        click.echo(f"{input_path}: {_plural(summary.records, 'record')} checked; ids from {origin}{dups}")
    skip = existing == "skip" or (existing == "auto" and not (summary is not None and summary.explicit_ids))
    cache = EmbeddingCache(cache_dir, max_bytes=cache_max_mb * 2**20) if cache_dir else None
    progress = False if no_progress else None
    if engine == "ray":
        from .distributed.ray_ingest import RayOptions, index_file

        options = RayOptions(address=address, actors=actors, batch_size=batch_size, cpus_per_actor=cpus_per_actor,
                             gpus_per_actor=gpus_per_actor)
        report = index_file(spec, input_path, text_fields=text_fields, id_field=id_field, options=options,
                            output_parquet=output_parquet, skip_existing=skip, flush_every=flush_every or None,
                            cache=cache, progress=progress, total=summary.records if summary else None)
        click.echo(f"summary: {report}")
        if not output_parquet:
            with _pipeline(spec, read_only=True) as pipeline:
                click.echo(f"the index holds {pipeline.count():,}")
        return
    with _pipeline(spec, cache=cache if cache is not None else False) as pipeline:
        before = pipeline.count()
        documents = read_jsonl(input_path, text_fields, id_field, max_record_bytes)
        try:
            report = pipeline.ingest(documents, batch_size=batch_size, progress=progress, total=summary.records,
                                     skip_existing=skip, flush_every=flush_every or None)
        except PartialWriteError as exc:
            raise click.ClickException(
                f"{exc}\n{_plural(exc.committed, 'document')} of {summary.unique:,} were committed; "
                f"the index holds {pipeline.count():,} (it held {before:,}); run the same command again to "
                "finish (ids are stable, so nothing is stored twice)"
            ) from None
        except EmbedspecError as exc:
            raise click.ClickException(f"{exc}\nnothing was written; the index holds {before:,}") from None
        after = pipeline.count()
    new = after - before
    click.echo(f"indexed {_plural(summary.unique, 'document')} ({new:,} new, {summary.unique - new:,} already "
               f"there); the index holds {after:,}")
    click.echo(f"summary: {report}")


@cli.command("search")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.argument("query", nargs=-1, required=True)
@click.option("-k", default=10, show_default=True, type=click.IntRange(1, MAX_K), help="Hits per query.")
@click.option("--filter", "filter_json", default=None, help='Payload filter as JSON, e.g. \'{"lang": "en"}\'.')
@click.option("--json", "as_json", is_flag=True)
def search_command(spec: str, query: tuple[str, ...], k: int, filter_json: str | None, as_json: bool) -> None:
    """Search SPEC's index for each QUERY."""
    flt = None
    if filter_json:
        try:
            flt = json.loads(filter_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not valid JSON: {exc.msg}", param_hint="--filter") from None
    with _pipeline(spec, read_only=True) as pipeline:
        index = pipeline.index
        if index.data_location() == "memory":
            raise click.ClickException(
                "the spec's index keeps its data in memory only (no path), so there is nothing to search "
                "from the command line: give the index a path, or search from Python after adding documents"
            )
        if not index.exists():
            raise click.ClickException(
                f"there is no index at {index.data_location()} yet: create it with "
                f"`embedspec index {spec} --input FILE` (or check index.path in the spec)"
            )
        results = pipeline.search(list(query), k=k, filter=flt)
    if as_json:
        click.echo(json.dumps([[{"id": h.id, "score": h.score, "payload": h.payload} for h in hits] for hits in results],
                              ensure_ascii=False, default=str))
        return
    for q, hits in zip(query, results):
        click.echo(f"query: {q}")
        for rank, h in enumerate(hits, 1):
            snippet = ""
            if h.payload:
                text = next((v for v in h.payload.values() if isinstance(v, str)), "")
                snippet = " ".join(text.split())[:100]
            click.echo(f"{rank:3d}. {h.score:.4f}  {h.id}  {snippet}")


@cli.command("serve")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0: every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes, each loading the model (several need --read-only or an index server).")
@click.option("--read-only", is_flag=True, default=None, help="Refuse document writes (403).")
@click.option("--max-batch-items", type=click.IntRange(1), help="Texts per encoder batch.")
@click.option("--encode-batch-size", type=click.IntRange(1), help="Rows per encoder run inside a batch (default 4).")
@click.option("--max-wait-ms", type=click.FloatRange(0), help="How long an idle encoder waits to fill a batch.")
@click.option("--max-queue-items", type=click.IntRange(1), help="Texts waiting before requests get 429.")
@click.option("--timeout", "request_timeout_s", type=click.FloatRange(0, min_open=True), help="Per-request deadline, s.")
@click.option("--model-name", help="Model id in responses and /v1/models (default: the encoder's).")
@click.option("--cors-origin", "cors_origins", multiple=True, help="Allow this browser origin (CORS is off by default).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve_command(spec: str, host: str, port: int, workers: int, log_level: str, **settings: Any) -> None:
    """Serve SPEC over HTTP: OpenAI-compatible /v1/embeddings, /v1/search, /v1/documents, /metrics.

    API keys come from EMBEDSPEC_API_KEY (reads) and EMBEDSPEC_WRITE_KEY (writes), or from ${VAR}
    references in the spec's serve: block; never from the command line. See docs/serve.md.
    """
    from .serve import require_serve_extra

    require_serve_extra()
    from .serve.runner import run_server

    settings["cors_origins"] = list(settings["cors_origins"]) or None
    run_server(spec, host=host, port=port, workers=workers, log_level=log_level, overrides=settings)


def _pipeline(spec: str, read_only: bool = False, cache: Any = None) -> Any:
    from .pipeline import build

    try:
        return build(spec, read_only=read_only, cache=cache)
    except EmbedspecError as exc:
        raise click.ClickException(str(exc)) from None


_attached = False


def get_cli() -> click.Group:
    """The ``embedspec`` group with the evaluation commands and plugins' commands attached."""
    global _attached
    if not _attached:
        _attach_commands()
        _attached = True
    return cli


def _attach_commands() -> None:
    try:
        from .eval.cli import compare_command, eval_command
    except ImportError:  # pragma: no cover - evaluation module missing
        pass
    else:
        cli.add_command(eval_command)
        cli.add_command(compare_command)
    from .plugins import attach_commands

    attach_commands(cli)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """Warnings on the command line: one ``warning:`` line, no source location."""
    click.echo(f"warning: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; a user error prints one clear message (``--debug``: the traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" not in args and not _debugging(None):
        warnings.showwarning = _show_warning
    try:
        group = get_cli()
        group.main(args=args, prog_name="embedspec", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        if exc.ctx is not None:
            click.echo(exc.ctx.get_usage(), err=True)
            click.echo(f"Try '{exc.ctx.command_path} --help' for help.", err=True)
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        error = exc if isinstance(exc, UserError) else UserError(exc)
        error.show()
        sys.exit(error.exit_code)
    except USER_ERRORS as exc:  # outside any command: plugin loading, the group itself
        if "--debug" in args or _debugging(None):
            raise
        error = UserError(exc)
        error.show()
        sys.exit(error.exit_code)
