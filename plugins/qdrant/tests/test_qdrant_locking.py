"""One process per qdrant-edge shard: a second opener (writer or `embedspec search`) is refused with
the holder's pid before it can harm the first; read-only opening changes no file."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import embedspec
import numpy as np
import pytest
from embedspec.errors import IndexLockedError
from embedspec_qdrant.edge import QdrantEdgeIndex

EMBEDSPEC = str(Path(sys.executable).with_name("embedspec"))


def edge_spec(path: Path) -> dict:
    return {"version": 1, "encoder": {"type": "hashing", "dim": 64}, "index": {"type": "qdrant-edge", "path": str(path)}}


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


WRITER = """
import json, sys, embedspec
pipe = embedspec.build(json.loads(sys.argv[1]))
pipe.add([f"first {i}" for i in range(2000)], ids=list(range(2000)))
print("READY", flush=True)
sys.stdin.readline()
pipe.add([f"second {i}" for i in range(2000)], ids=list(range(2000, 4000)))
pipe.flush()
pipe.close()
print("DONE", flush=True)
"""


def _readline(proc: subprocess.Popen, prefix: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"writer exited {proc.returncode}: {proc.stderr.read()}")
    raise AssertionError(f"no {prefix} from the writer")


@pytest.mark.slow
def test_second_writer_and_search_are_refused_and_the_first_writer_is_unharmed(tmp_path):
    spec = edge_spec(tmp_path / "shard")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(json.dumps(spec))  # JSON is YAML
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER), json.dumps(spec)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _readline(writer, "READY")
        with pytest.raises(IndexLockedError) as exc:
            embedspec.build(spec).count()
        assert f"pid {writer.pid}" in str(exc.value) and str(tmp_path / "shard") in str(exc.value)
        search = subprocess.run([EMBEDSPEC, "search", str(spec_file), "first 1"], capture_output=True, text=True,
                                timeout=120)
        assert search.returncode == 1 and "Traceback" not in search.stderr
        assert f"in use by a writer (pid {writer.pid})" in search.stderr
        writer.stdin.write("go\n")
        writer.stdin.flush()
        _readline(writer, "DONE")  # its flush() and close() after the refused openers succeed
    finally:
        writer.kill()
        writer.wait()
    with embedspec.build(spec, read_only=True) as reader:
        assert reader.count() == 4000


def test_read_only_open_search_and_close_change_no_file(tmp_path):
    index = QdrantEdgeIndex(path=str(tmp_path / "shard"))
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((300, 16)).astype(np.float32)
    index.upsert(list(range(300)), vecs, [{"i": i} for i in range(300)])
    index.delete([5])
    index.close()
    before = tree_digest(tmp_path / "shard")
    reader = QdrantEdgeIndex(path=str(tmp_path / "shard"))
    reader.read_only = True
    assert reader.count() == 299 and reader.search(vecs[:2], k=3)[0][0].id == 0
    reader.close()
    assert tree_digest(tmp_path / "shard") == before


def test_missing_shard_read_only_is_empty_and_creates_nothing(tmp_path):
    reader = QdrantEdgeIndex(path=str(tmp_path / "nowhere"), dim=8)
    reader.read_only = True
    assert not reader.exists() and reader.count() == 0
    reader.close()
    assert not (tmp_path / "nowhere").exists()


def test_k_beyond_the_bound_is_a_clear_error(tmp_path):
    index = QdrantEdgeIndex(path=str(tmp_path / "shard"))
    index.upsert([1], np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match="k must be between 1 and 1,000,000"):
        index.search(np.ones((1, 4), np.float32), k=2**64)
    index.close()
