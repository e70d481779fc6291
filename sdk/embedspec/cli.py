"""The ``embedspec`` command: plugins, validate, schema, index, search (+ commands plugins add)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .errors import EmbedspecError, SpecError


@click.group()
@click.version_option(package_name="embedspec")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug: bool) -> None:
    """embedspec: embedding pipelines from a declarative YAML spec."""


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List installed components and plugins that failed to load."""
    from .plugins import broken_plugins, get_registry

    rows = [
        {"name": r.name, "kind": r.kind, "plugin": r.plugin, "distribution": r.distribution, "version": r.version}
        for r in get_registry()
    ]
    broken = [{"plugin": b.name, "distribution": b.distribution, "error": b.error} for b in broken_plugins()]
    if as_json:
        click.echo(json.dumps({"components": rows, "broken": broken}, indent=2))
        return
    widths = [max(len(str(r[c])) for r in rows + [{c: c}]) for c in ("kind", "name", "plugin", "distribution")]
    for r in [{"kind": "KIND", "name": "NAME", "plugin": "PLUGIN", "distribution": "DISTRIBUTION", "version": "VERSION"}, *rows]:
        cells = [str(r[c]).ljust(w) for c, w in zip(("kind", "name", "plugin", "distribution"), widths)]
        click.echo("  ".join([*cells, str(r["version"])]))
    for b in broken:
        click.echo(f"BROKEN plugin {b['plugin']} ({b['distribution']}): {b['error']}", err=True)


@cli.command("validate")
@click.argument("spec", type=click.Path(dir_okay=False))
def validate_command(spec: str) -> None:
    """Validate SPEC (structure, fields, and the dimension chain); exit 1 listing every problem."""
    from .pipeline import build

    try:
        pipeline = build(spec)
    except (SpecError, EmbedspecError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"{spec}: valid ({pipeline.encoder.dim} -> {pipeline.dim} dims, index {type(pipeline.index).__name__})")
    pipeline.close()


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


def _read_jsonl(
    path: Path, text_fields: tuple[str, ...], id_field: str
) -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
    texts, ids, payloads = [], [], []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
            missing = [f for f in text_fields if not isinstance(record, dict) or f not in record]
            if missing:
                raise click.ClickException(f"{path}:{lineno}: missing field(s) {', '.join(map(repr, missing))}")
            texts.append(" ".join(str(record[f]) for f in text_fields).strip())
            ids.append(record.get(id_field, len(ids)))
            payloads.append({k: v for k, v in record.items() if k != id_field})
    return texts, ids, payloads


@cli.command("index")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="JSON lines; each line has the text field, optionally an id and payload fields.")
@click.option("--text-field", "text_fields", multiple=True, default=("text",), show_default=True,
              help="Field holding the text; repeat to join several (e.g. title and text) with a space.")
@click.option("--id-field", default="id", show_default=True)
@click.option("--batch-size", default=256, show_default=True)
@click.option("--no-progress", is_flag=True)
def index_command(
    spec: str, input_path: str, text_fields: tuple[str, ...], id_field: str, batch_size: int, no_progress: bool
) -> None:
    """Encode the documents of --input and store them in SPEC's index (payload: the other fields)."""
    texts, ids, payloads = _read_jsonl(Path(input_path), text_fields, id_field)
    with _pipeline(spec) as pipeline:
        pipeline.add(texts, ids=ids, payloads=payloads, batch_size=batch_size, progress=False if no_progress else None)
        click.echo(f"indexed {len(texts)} documents; the index holds {pipeline.index.count()}")


@cli.command("search")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.argument("query", nargs=-1, required=True)
@click.option("-k", default=10, show_default=True, help="Hits per query.")
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
    with _pipeline(spec) as pipeline:
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


def _pipeline(spec: str) -> Any:
    from .pipeline import build

    try:
        return build(spec)
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
        from .cli_eval import compare_command, eval_command
    except ImportError:  # pragma: no cover - evaluation module missing
        pass
    else:
        cli.add_command(eval_command)
        cli.add_command(compare_command)
    from .plugins import get_plugin_manager

    get_plugin_manager().hook.register_commands(cli=cli)


#: Errors that are the user's (or the machine's), not embedspec's: one line and a hint, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (EmbedspecError, OSError, ValueError, TypeError, KeyError, LookupError)


def _hint(exc: BaseException) -> str:
    if isinstance(exc, SpecError):
        return "fix the spec and run `embedspec validate SPEC` again"
    if isinstance(exc, OSError):
        return "check the path and its permissions"
    return "run again with --debug for the full traceback"


def main(argv: list[str] | None = None) -> None:
    """Run the command line; a user error prints one clear message (``--debug``: the traceback)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("EMBEDSPEC_DEBUG", "") not in ("", "0")
    try:
        group = get_cli()
        group.main(args=args, prog_name="embedspec", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        if exc.ctx is not None:
            click.echo(exc.ctx.get_usage(), err=True)
            click.echo(f"Try '{exc.ctx.command_path} --help' for help.", err=True)
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if debug:
            raise
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except USER_ERRORS as exc:
        if debug:
            raise
        message = str(exc) or type(exc).__name__
        if not isinstance(exc, EmbedspecError):
            message = f"{type(exc).__name__}: {message}"
        click.echo(f"error: {message}", err=True)
        click.echo(f"hint: {_hint(exc)}", err=True)
        sys.exit(1)
