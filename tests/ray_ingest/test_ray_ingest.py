"""Ray Data ingestion on a local Ray (2 CPUs, no dashboard): the same vectors and index contents as the
in-process path, resuming, Parquet output, records input, errors from actors, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import embedspec
import numpy as np
import pytest
from embedspec.builtin.exact import ExactIndex
from embedspec.corpus import read_jsonl
from embedspec.documents import content_id
from embedspec.errors import DatasetError, EmbedspecError

ray = pytest.importorskip("ray", reason="Ray ingestion needs the extra: pip install 'embedspec[ray]'")
from embedspec.distributed.actor import EncodeActor  # noqa: E402
from embedspec.distributed.ray_ingest import RayOptions, ingest_dataset, read_corpus  # noqa: E402
from embedspec.distributed.rows import document_rows  # noqa: E402

TWO_ACTORS = RayOptions(actors=2, cpus_per_actor=1, batch_size=64)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def records(n: int) -> list[dict]:
    topics = ["cats", "dogs", "rivers", "mountains"]
    return [{"title": f"On {topics[i % 4]}", "text": f"note {i} about {topics[i % 4]} " + "and more " * (i % 5),
             "meta": {"n": i, "tags": [topics[i % 4]], "score": i / 7, "none": None}} for i in range(n)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def exact_spec(path: Path, encoder: dict | None = None) -> dict:
    return {"version": 1, "encoder": encoder or {"type": "hashing", "dim": 64}, "index": {"type": "exact", "path": str(path)}}


def contents(path: Path) -> dict:
    """id -> (vector, payload) of an exact index on disk."""
    index = ExactIndex.open(path)
    return {pid: (index._vectors[row], index._payloads[row]) for pid, row in index._rows.items()}


def in_process(spec: dict, corpus: Path, fields: tuple[str, ...], id_field: str = "id") -> None:
    with embedspec.build(spec, cache=False) as pipe:
        pipe.ingest(read_jsonl(corpus, fields, id_field), progress=False)


def ray_ingest(spec: dict, corpus: Path, fields: tuple[str, ...], options: RayOptions = TWO_ACTORS, **kw):
    dataset, kind = read_corpus(corpus, blocks=6)
    return ingest_dataset(spec, dataset, kind=kind, text_fields=fields, options=options, progress=False, **kw)


def test_ray_gives_the_in_process_index_and_resumes(tmp_path):
    corpus = write_jsonl(tmp_path / "docs.jsonl", records(300) + records(3)[:1])  # one exact duplicate
    fields = ("title", "text")
    in_process(exact_spec(tmp_path / "local"), corpus, fields)
    first = ray_ingest(exact_spec(tmp_path / "ray"), corpus, fields)
    assert (first.written, first.duplicates, first.skipped) == (300, 1, 0) or first.written == 301
    local, distributed = contents(tmp_path / "local"), contents(tmp_path / "ray")
    assert set(local) == set(distributed) and len(local) == 300
    for pid, (vector, payload) in local.items():
        np.testing.assert_array_equal(distributed[pid][0], vector)
        assert distributed[pid][1] == payload
    # resume: an index holding half of the corpus gets the other half, and says so
    half = write_jsonl(tmp_path / "half.jsonl", records(150))
    in_process(exact_spec(tmp_path / "resumed"), half, fields)
    report = ray_ingest(exact_spec(tmp_path / "resumed"), corpus, fields)
    assert (report.skipped, report.written) == (151, 150) or (report.skipped, report.written) == (150, 151)
    assert set(contents(tmp_path / "resumed")) == set(local)


def test_parquet_output_and_its_resume(tmp_path):
    import pyarrow.parquet as pq

    corpus = write_jsonl(tmp_path / "docs.jsonl", records(120))
    out = tmp_path / "vectors"
    report = ray_ingest(exact_spec(tmp_path / "unused"), corpus, ("text",), output_parquet=out, flush_every=50)
    assert report.written == 120 and not (tmp_path / "unused").exists(), "Parquet output opens no index"
    table = pq.read_table(out)
    assert table.column_names == ["id", "vector", "payload"] and table.num_rows == 120
    assert len(list(out.glob("*.parquet"))) >= 2, "one file per flush_every rows"
    texts = [r["text"].strip() for r in records(120)]
    by_id = dict(zip(table.column("id").to_pylist(), table.column("vector").to_pylist()))
    expected = embedspec.build({"version": 1, "encoder": {"type": "hashing", "dim": 64}, "index": {"type": "exact"}},
                               cache=False).encode(texts)
    np.testing.assert_array_equal(np.array([by_id[content_id(t)] for t in texts], dtype=np.float32), expected)
    payload = json.loads(table.column("payload")[0].as_py())
    assert set(payload) == {"title", "text", "meta"}
    again = ray_ingest(exact_spec(tmp_path / "unused"), corpus, ("text",), output_parquet=out)
    assert (again.written, again.skipped) == (0, 120)


def test_parquet_records_with_ids_into_qdrant_edge(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"doc": i * 10, "text": f"parquet record {i}", "lang": ["en", "fr"][i % 2]} for i in range(90)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "docs.parquet")
    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 32},
            "index": {"type": "qdrant-edge", "path": str(tmp_path / "shard")}}
    dataset, kind = read_corpus(tmp_path / "docs.parquet")
    report = ingest_dataset(spec, dataset, kind=kind, id_field="doc", options=TWO_ACTORS, progress=False)
    assert report.written == 90
    with embedspec.build(spec) as pipe:
        assert pipe.count() == 90 and pipe.index.contains([0, 10, 890, 5]) == [True, True, True, False]
        hit = pipe.search(["parquet record 7"], k=1)[0][0]
        assert hit.id == 70 and hit.payload == {"text": "parquet record 7", "lang": "fr"}


def test_a_bad_record_fails_with_the_record_named_and_nothing_written(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": i, "text": f"fine {i}" if i != 5 else ""} for i in range(10)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "bad.parquet")
    dataset, kind = read_corpus(tmp_path / "bad.parquet")
    with pytest.raises(DatasetError, match=r"record 5: the text \('text'\) is empty"):
        ingest_dataset(exact_spec(tmp_path / "idx"), dataset, kind=kind, options=TWO_ACTORS, progress=False)
    assert ExactIndex.open(tmp_path / "idx").count() == 0 if (tmp_path / "idx" / "manifest.json").exists() else True


def test_asking_for_more_than_the_cluster_has_is_a_clear_error(tmp_path):
    corpus = write_jsonl(tmp_path / "docs.jsonl", records(5))
    with pytest.raises(EmbedspecError, match=r"3 actors x 1 CPUs need 3 CPUs; the Ray cluster has 2"):
        ray_ingest(exact_spec(tmp_path / "idx"), corpus, ("text",), RayOptions(actors=3, cpus_per_actor=1))
    with pytest.raises(EmbedspecError, match=r"need 1 GPUs; the Ray cluster has 0"):
        ray_ingest(exact_spec(tmp_path / "idx"), corpus, ("text",), RayOptions(actors=1, gpus_per_actor=1))


def test_index_command_with_the_ray_engine(tmp_path, capsys):
    from embedspec.cli import main

    corpus = write_jsonl(tmp_path / "docs.jsonl", records(80))
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\nencoder: {{type: hashing, dim: 64}}\nindex: {{type: exact, path: {tmp_path / 'idx'}}}\n")
    main(["index", str(spec), "--input", str(corpus), "--engine", "ray", "--actors", "2", "--cpus-per-actor", "1",
          "--batch-size", "16", "--no-progress", "--cache", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert "80 records checked" in out and "80 written, 0 skipped" in out and "cache 0 hits / 80 misses" in out
    assert "the index holds 80" in out
    main(["index", str(spec), "--input", str(corpus), "--engine", "ray", "--actors", "1", "--cpus-per-actor", "1",
          "--no-progress"])
    assert "0 written, 80 skipped (already indexed)" in capsys.readouterr().out


def test_the_actor_upserts_into_a_server_index_itself(tmp_path):
    """``upsert`` mode (a server index): the actor skips held ids, drops duplicates, writes the rest."""
    import pyarrow as pa

    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 16}, "index": {"type": "exact"}}
    actor = EncodeActor(spec, mode="upsert")
    actor.pipeline.add(["already there"], progress=False)
    lines = pa.table({"text": [json.dumps({"text": t}) for t in ["already there", "new one", "new one", "another"]]})
    counts = actor(document_rows(lines, kind="lines"))
    assert counts.to_pylist() == [{"written": 2, "skipped": 1, "duplicates": 1}]
    assert actor.pipeline.count() == 3


def test_minilm_on_ray_matches_in_process(tmp_path, minilm_dir, shared_data):
    corpus = tmp_path / "scifact.jsonl"
    lines = (shared_data / "scifact" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:200]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    encoder = {"type": "onnx-text", "model": str(minilm_dir)}
    fields = ("title", "text")
    with embedspec.build(exact_spec(tmp_path / "local", encoder), cache=False) as pipe:
        pipe.ingest(read_jsonl(corpus, fields, "_id"), progress=False)
    dataset, kind = read_corpus(corpus, blocks=4)
    report = ingest_dataset(exact_spec(tmp_path / "ray", encoder), dataset, kind=kind, text_fields=fields,
                            id_field="_id", options=RayOptions(actors=1, cpus_per_actor=2, batch_size=50),
                            progress=False)
    assert report.written == 200
    local, distributed = contents(tmp_path / "local"), contents(tmp_path / "ray")
    assert set(local) == set(distributed) and len(local) == 200
    cosines = [float(np.dot(v, distributed[pid][0])) for pid, (v, _) in local.items()]  # stored L2-normalized
    assert min(cosines) >= 0.9999, min(cosines)
    assert all(distributed[pid][1] == payload for pid, (_, payload) in local.items())
