"""The Ray driver: read the corpus, encode it on an actor pool, write the vectors once.

Who writes:

- an embedded index (``exact``, ``qdrant-edge``, ``qdrant`` with ``path``): only one process may
  open it for writing, so the actors encode and the driver writes (``Ingestion.write``: the same
  compression, fitting and periodic flushes as in-process);
- a server index (``qdrant`` with ``url``): the actors upsert themselves when the chain needs no
  fitting (the driver writes otherwise);
- ``output_parquet``: the driver writes Parquet files of ``id``, ``vector`` and ``payload`` (JSON
  text), each file atomically (a temporary name, then a rename) every ``flush_every`` rows.

Resuming: ids the index (or the Parquet directory) already holds are looked up in batches before
encoding, and those documents are dropped before they reach the actors.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..embedding_cache import EmbeddingCache
from ..errors import DatasetError, EmbedspecError
from ..ingestion import Ingestion
from ..progress import IngestReport, Progress, progress_mode
from ..spec import Spec, load_spec
from .actor import EncodeActor, encoding_spec, vectors_of
from .rows import ID, PAYLOAD, document_rows, payloads_of

#: Ids asked of the index per ``contains`` call in the resume pass.
LOOKUP_BATCH = 4096
_READERS = {".jsonl": "lines", ".ndjson": "lines", ".json": "lines", ".parquet": "records", ".csv": "records"}


@dataclass
class RayOptions:
    """How to run on Ray: where, how many actors, and their resources."""

    address: str | None = None  # None: a local Ray (or the one already initialized); "auto"; "ray://host:10001"
    actors: int | None = None  # default: the cluster's GPUs / gpus_per_actor, else CPUs / cpus_per_actor
    batch_size: int = 256  # documents per actor call
    cpus_per_actor: float | None = None  # default: min(4, cluster CPUs); also the encoder's threads
    gpus_per_actor: float = 0.0
    num_cpus: int | None = None  # CPUs of a local Ray started here (tests, laptops)
    blocks: int | None = None  # how many blocks to split one input file into (default: from the batch size)


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Any]:
    """Ray, initialized here when it is not already (and shut down after), without the dashboard."""
    try:
        import ray
    except ImportError as exc:
        raise EmbedspecError("Ray ingestion needs Ray Data: pip install 'embedspec[ray]'") from exc
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if options.address:
            kwargs["address"] = options.address
        elif options.num_cpus:
            kwargs["num_cpus"] = options.num_cpus
        ray.init(**kwargs)
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def read_corpus(path: str | os.PathLike[str], *, blocks: int | None = None) -> tuple[Any, str]:
    """``(dataset, kind)`` of a JSON lines, Parquet or CSV file (or directory of Parquet) with Ray's readers.

    JSON lines are read as text lines (``kind="lines"``) and parsed like ``embedspec index`` does;
    the others are records (``kind="records"``).
    """
    import ray.data

    p = Path(path)
    kind = "records" if p.is_dir() else _READERS.get(p.suffix.lower())
    if kind is None:
        raise DatasetError(f"{p}: cannot tell the format from the name; use .jsonl, .parquet or .csv")
    extra = {"override_num_blocks": blocks} if blocks else {}
    if kind == "lines":
        return ray.data.read_text(str(p), num_cpus=0, **extra), kind
    if p.is_dir() or p.suffix.lower() == ".parquet":
        return ray.data.read_parquet(str(p), num_cpus=0, **extra), kind
    return ray.data.read_csv(str(p), num_cpus=0, **extra), kind


def _unwrapped(exc: BaseException) -> BaseException:
    """The user's error inside Ray's wrappers (a ``DatasetError`` raised in an actor), else ``exc``."""
    seen = exc
    for _ in range(8):
        cause = getattr(seen, "cause", None) or seen.__cause__
        if cause is None or cause is seen:
            break
        seen = cause
        if isinstance(seen, (EmbedspecError, ValueError, TypeError)) and "ray" not in type(seen).__module__:
            return seen
    return exc


def _resources(ray: Any, options: RayOptions) -> tuple[int, float, float, float]:
    """(actors, CPUs per actor, CPUs each actor reserves in Ray, GPUs per actor), checked against the cluster.

    Ray Data's own tasks (reading, Parquet metadata, parsing rows) need a free CPU in Ray's
    accounting or the run stalls, so the actors together reserve at most all CPUs but one; their
    encoders still run ``cpus_per_actor`` threads each.
    """
    have = ray.cluster_resources()
    cpus, gpus = float(have.get("CPU", 0)), float(have.get("GPU", 0))
    gpa = float(options.gpus_per_actor or 0)
    cpa = float(options.cpus_per_actor) if options.cpus_per_actor else max(1.0, min(4.0, cpus))
    actors = options.actors or (int(gpus // gpa) if gpa else int(cpus // cpa)) or 1
    if actors * cpa > cpus:
        raise EmbedspecError(f"{actors} actors x {cpa:g} CPUs need {actors * cpa:g} CPUs; the Ray cluster has {cpus:g} "
                             "(lower --actors or --cpus-per-actor)")
    if gpa and actors * gpa > gpus:
        raise EmbedspecError(f"{actors} actors x {gpa:g} GPUs need {actors * gpa:g} GPUs; the Ray cluster has {gpus:g}")
    reserved = min(cpa, max(0.0, (cpus - 1) / actors))
    return actors, cpa, reserved, gpa


def _actor_spec(spec: Spec, cpus: float, gpus: float) -> dict[str, Any]:
    """The raw spec, with the encoder's threads set to the actor's CPUs and its device to CUDA on GPUs.

    Ray sets ``OMP_NUM_THREADS`` for an actor, which onnxruntime ignores: an encoder with a
    ``threads`` field gets it explicitly (unless the spec sets it).
    """
    raw = json.loads(json.dumps(spec.raw, default=str))
    block = raw["encoder"]
    fields = spec.encoder.registration.config_model.model_fields
    if "threads" in fields and block.get("threads") is None:
        block["threads"] = max(1, int(cpus))
    if gpus and "device" in fields and block.get("device", "auto") == "auto":
        block["device"] = "cuda"  # a GPU actor that silently ran on CPU would be an error, not a fallback
    return raw


def _is_server(index: Any) -> bool:
    return getattr(index, "url", None) is not None


def _present_ids(docs: Any, holds: Any, report: IngestReport) -> frozenset[Any]:
    """Ids of ``docs`` that ``holds(ids) -> list[bool]`` says are stored (asked ``LOOKUP_BATCH`` at a time)."""
    present: set[Any] = set()
    for batch in docs.select_columns([ID]).iter_batches(batch_size=LOOKUP_BATCH, batch_format="pyarrow"):
        ids = batch.column(ID).to_pylist()
        for pid, there in zip(ids, holds(ids)):
            if there:
                present.add(pid)
                report.skipped += 1
    return frozenset(present)


def _parquet_ids(directory: Path) -> set[Any]:
    """Ids already written to ``directory`` (complete files only: each is renamed into place when done)."""
    import pyarrow.parquet as pq

    ids: set[Any] = set()
    for file in sorted(directory.glob("*.parquet")):
        try:
            ids.update(pq.read_table(file, columns=[ID]).column(ID).to_pylist())
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
            raise DatasetError(f"{file} is not a readable Parquet file ({exc}); move it out of {directory}") from None
    return ids


def ingest_dataset(spec: str | os.PathLike[str] | Mapping[str, Any] | Spec, dataset: Any, *, kind: str = "records",
                   text_fields: tuple[str, ...] = ("text",), id_field: str = "id", options: RayOptions | None = None,
                   output_parquet: str | os.PathLike[str] | None = None, skip_existing: bool = True,
                   flush_every: int | None = 10_000, cache: EmbeddingCache | None = None,
                   progress: bool | None = None, total: int | None = None, source: str = "<input>") -> IngestReport:
    """Encode ``dataset`` (a ``ray.data.Dataset``) on Ray actors and store the vectors; return the report.

    Rows are records with the text field(s) and optionally an id (``kind="records"``) or JSON lines
    from ``ray.data.read_text`` (``kind="lines"``). See the module docstring for who writes.
    """
    import ray

    options = options or RayOptions()
    spec = load_spec(spec)
    actors, cpa, reserved, gpa = _resources(ray, options)
    raw = _actor_spec(spec, cpa, gpa)
    from ..pipeline import build

    report = IngestReport()
    bar = Progress(total, mode=progress_mode(progress))
    docs = dataset.map_batches(document_rows, batch_size=None, batch_format="pyarrow", num_cpus=0,
                               fn_kwargs={"kind": kind, "text_fields": tuple(text_fields), "id_field": id_field,
                                          "source": source})
    docs.context.raise_original_map_exception = True  # an actor's DatasetError reaches the driver as itself
    pipeline = build(encoding_spec(raw) if output_parquet else spec, cache=False)
    try:
        if output_parquet:
            mode = "compress"
            unfitted = [type(c).__name__ for c in pipeline.compressors
                        if not getattr(c, "is_quantizer", False) and not c.is_fitted]
            if unfitted:
                raise EmbedspecError(f"Parquet output needs fitted compressors; {', '.join(unfitted)} are not fitted")
            out_dir = Path(output_parquet)
            out_dir.mkdir(parents=True, exist_ok=True)
            done = _parquet_ids(out_dir) if skip_existing else set()
            present = _present_ids(docs, lambda ids: [i in done for i in ids], report) if done else frozenset()
        else:
            server = _is_server(pipeline.index) and not pipeline.needs_fit()
            mode = "upsert" if server else "encode"
            present = frozenset()
            if skip_existing and not server and pipeline.count() > 0:
                present = _present_ids(docs, pipeline.index.contains, report)
        bar.update(report.skipped)
        encoded = docs.map_batches(
            EncodeActor, batch_size=options.batch_size, batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=reserved, num_gpus=gpa or None,
            fn_constructor_kwargs={"spec": raw, "mode": mode, "cache": cache, "cwd": os.getcwd(), "skip": present},
        )
        if mode == "upsert":
            _consume_counts(encoded, report, bar)
        elif mode == "compress":
            _write_parquet(encoded, out_dir, flush_every or 100_000, report, bar)
        else:
            _write_index(encoded, pipeline, options.batch_size, flush_every, report, bar)
    except Exception as exc:
        cause = _unwrapped(exc)
        if cause is exc:
            raise
        raise cause from None  # the user's error raised in an actor, without Ray's wrapping
    finally:
        report.seconds = bar.seconds
        bar.close()
        pipeline.close()
    report.documents = report.written + report.skipped + report.duplicates + report.failed
    return report


def _consume_counts(encoded: Any, report: IngestReport, bar: Progress) -> None:
    for batch in encoded.iter_batches(batch_size=None, batch_format="pyarrow"):
        for name in ("written", "skipped", "duplicates"):
            value = sum(batch.column(name).to_pylist())
            setattr(report, name, getattr(report, name) + value)
            bar.update(value)


def _write_index(encoded: Any, pipeline: Any, batch_size: int, flush_every: int | None, report: IngestReport,
                 bar: Progress) -> None:
    """The single writer: unique ids per batch through ``Ingestion.write`` (compress, fit, flush)."""
    ingestion = Ingestion(pipeline, batch_size, flush_every=flush_every)
    try:
        with ingestion.committing():
            for batch in encoded.iter_batches(batch_size=None, batch_format="pyarrow"):
                ids = batch.column(ID).to_pylist()
                seen: set[Any] = set()
                rows = [i for i, pid in enumerate(ids) if not (pid in seen or seen.add(pid))]
                vectors, payloads = vectors_of(batch), payloads_of(batch)
                ingestion.write([ids[i] for i in rows], vectors[rows], [payloads[i] for i in rows])
                report.duplicates += len(ids) - len(rows)
                report.cache_hits += sum(batch.column("cache_hits").to_pylist())
                report.cache_misses += sum(batch.column("cache_misses").to_pylist())
                bar.update(len(ids))
            ingestion.finish()
    finally:
        report.written = ingestion.committed


def _write_parquet(encoded: Any, out_dir: Path, rows_per_file: int, report: IngestReport, bar: Progress) -> None:
    """Parquet files of ``rows_per_file`` rows, each written under a temporary name and renamed when complete."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    run = uuid.uuid4().hex[:8]
    pending: list[Any] = []
    rows = files = 0

    def flush() -> None:
        nonlocal pending, rows, files
        if not pending:
            return
        table = pa.concat_tables(pending)
        final = out_dir / f"part-{run}-{files:05d}.parquet"
        tmp = out_dir / f".{final.name}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, final)
        report.written += table.num_rows
        pending, rows, files = [], 0, files + 1

    for batch in encoded.iter_batches(batch_size=None, batch_format="pyarrow"):
        table = batch.select([ID, "vector", PAYLOAD])
        pending.append(table)
        rows += table.num_rows
        bar.update(table.num_rows)
        if rows >= rows_per_file:
            flush()
    flush()


def index_file(spec: str | os.PathLike[str], path: str | os.PathLike[str], *, text_fields: tuple[str, ...] = ("text",),
               id_field: str = "id", options: RayOptions | None = None, quiet_ray: bool = True,
               **kwargs: Any) -> IngestReport:
    """``embedspec index --engine ray``: start (or join) Ray, read ``path``, ``ingest_dataset`` it."""
    import logging

    options = options or RayOptions()
    if quiet_ray:  # our progress lines and summary replace Ray Data's per-operator logging
        logging.getLogger("ray").setLevel(logging.WARNING)
        os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    with ray_session(options) as ray:
        if quiet_ray:
            import ray.data

            ray.data.DataContext.get_current().enable_progress_bars = False
            for name in ("ray", "ray.data"):
                logging.getLogger(name).setLevel(logging.WARNING)
        actors = _resources(ray, options)[0]
        total = kwargs.get("total")
        blocks = options.blocks or max(2 * actors, -(-(total or 0) // max(1, options.batch_size)))
        dataset, kind = read_corpus(path, blocks=blocks)
        return ingest_dataset(spec, dataset, kind=kind, text_fields=text_fields, id_field=id_field, options=options,
                              source=str(path), **kwargs)
