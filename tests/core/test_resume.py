"""Resumable ingestion: ``contains`` in batches, skipping what the index holds, periodic flushes, and an
``embedspec index`` killed (SIGKILL) half-way then run again ending with every document exactly once."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import embedspec
import numpy as np
import pytest
from embedspec.base import BaseIndex
from embedspec.builtin.exact import ExactIndex
from embedspec.builtin.hashing import HashingEncoder
from embedspec.documents import Document, content_id
from embedspec.pipeline import Pipeline
from embedspec.testing_indexes import check_contains

TEXTS = [f"passage {i}: {'alpha beta gamma delta'.split()[i % 4]} {i * 7 % 13}" for i in range(1000)]


def test_exact_index_contains_conformance(tmp_path):
    check_contains(lambda: ExactIndex())
    check_contains(lambda: ExactIndex(path=str(tmp_path / "idx")))


def test_contains_reads_a_stored_index_read_only(tmp_path):
    with ExactIndex(path=str(tmp_path / "idx")) as index:
        index.upsert(["a", 2], np.eye(2, dtype=np.float32))
    reader = ExactIndex.open(tmp_path / "idx")
    assert reader.contains(["a", "2", 2, "b"]) == [True, False, True, False]


def test_ingest_skips_what_the_index_holds_without_encoding_it(monkeypatch):
    pipe = embedspec.build({"version": 1, "encoder": {"type": "hashing", "dim": 32}, "index": {"type": "exact"}})
    pipe.add(TEXTS[:400], progress=False)
    encoded: list[int] = []
    original = HashingEncoder.encode
    monkeypatch.setattr(HashingEncoder, "encode", lambda self, x, **kw: encoded.append(len(x)) or original(self, x, **kw))
    lookups: list[int] = []
    contains = ExactIndex.contains
    monkeypatch.setattr(ExactIndex, "contains", lambda self, ids: lookups.append(len(ids)) or contains(self, ids))
    report = pipe.ingest((Document(t) for t in TEXTS), batch_size=100, skip_existing=True, progress=False)
    assert (report.documents, report.written, report.skipped) == (1000, 600, 400)
    assert sum(encoded) == 600, "documents the index holds must not be encoded again"
    assert lookups == [100] * 10, "ids are looked up once per batch, not one at a time"
    assert pipe.count() == 1000 and report.ids == [content_id(t) for t in TEXTS]
    report = pipe.ingest((Document(t) for t in TEXTS), batch_size=100, skip_existing=False, progress=False)
    assert (report.written, report.skipped) == (1000, 0), "without skip_existing every document is rewritten"


class NoLookupIndex(BaseIndex):
    """An index that cannot say which ids it holds (no _contains)."""

    def __init__(self) -> None:
        self.points: dict = {}

    def _upsert(self, ids, vectors, payloads):
        self.points.update(zip(ids, vectors))

    def count(self) -> int:
        return len(self.points)


def test_an_index_without_lookups_is_written_in_full():
    pipe = Pipeline(HashingEncoder(dim=16), NoLookupIndex())
    pipe.add(TEXTS[:10], progress=False)
    report = pipe.ingest((Document(t) for t in TEXTS[:30]), skip_existing=True, progress=False)
    assert (report.written, report.skipped) == (30, 0) and pipe.count() == 30


def test_flush_every_makes_finished_batches_durable_during_the_run(tmp_path):
    spec = {"version": 1, "encoder": {"type": "hashing", "dim": 32}, "index": {"type": "exact", "path": str(tmp_path / "i")}}
    seen_on_disk: list[int] = []

    def documents():
        for i, text in enumerate(TEXTS):
            if i == 500:  # batches of 100: docs 0..499 written, flushed at 200 and 400 (not yet at 600)
                seen_on_disk.append(ExactIndex.open(tmp_path / "i").count())
            yield Document(text)

    with embedspec.build(spec) as pipe:
        pipe.ingest(documents(), batch_size=100, flush_every=200, progress=False)
    assert seen_on_disk == [400]
    with pytest.raises(ValueError, match="flush_every must be a positive integer"):
        pipe.ingest([], flush_every=0)


CHILD = """
import sys, time
from embedspec.builtin.hashing import HashingEncoder, HashingEncoderConfig
from embedspec.hookspecs import hookimpl
from embedspec.plugins import register_plugin

class SlowHashing(HashingEncoder):
    def _encode_all(self, inputs, role, batch_size):
        time.sleep(0.002 * len(inputs))
        return super()._encode_all(inputs, role, batch_size)

class Plugin:
    @hookimpl
    def register_encoders(self, register):
        register("slow-hashing", SlowHashing, HashingEncoderConfig)

register_plugin(Plugin(), name="slow")
from embedspec.cli import main
main(sys.argv[1:])
"""


def test_an_index_command_killed_half_way_resumes_and_ends_with_every_document_once(tmp_path):
    n = 3000
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": f"record {i} " + "word " * (i % 17), "n": i}) + "\n" for i in range(n)))
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"version: 1\nencoder: {{type: slow-hashing, dim: 64}}\nindex: {{type: exact, path: {tmp_path / 'idx'}}}\n")
    args = [sys.executable, "-c", textwrap.dedent(CHILD), "index", str(spec), "--input", str(docs),
            "--batch-size", "50", "--flush-every", "200"]
    env = {**os.environ, "EMBEDSPEC_PROGRESS": "1", "EMBEDSPEC_PROGRESS_INTERVAL": "0.05"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 240
        done = 0
        while done < n // 2:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, f"the run ended before half-way: {proc.stderr.read()}"
            match = re.match(r"encoding: ([\d,]+)/", line)
            done = int(match.group(1).replace(",", "")) if match else done
            assert time.monotonic() < deadline, "no progress line reached half-way"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    kept = ExactIndex.open(tmp_path / "idx").count()
    assert 0 < kept < n and kept % 200 == 0, f"{kept} documents survived the kill (flushed every 200)"
    second = subprocess.run(args + ["--no-progress"], capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"{n - kept:,} written, {kept:,} skipped (already indexed)" in second.stdout, second.stdout
    assert f"the index holds {n:,}" in second.stdout
    index = ExactIndex.open(tmp_path / "idx")
    texts = [json.loads(line)["text"].strip() for line in docs.read_text().splitlines()]  # as indexed
    assert index.count() == n and index.contains([content_id(t) for t in texts]) == [True] * n
    hits = index.search(HashingEncoder(dim=64).encode(texts[:5]), k=1)
    assert [h[0].id for h in hits] == [content_id(t) for t in texts[:5]]
    assert [h[0].payload["n"] for h in hits] == list(range(5))
