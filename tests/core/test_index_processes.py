"""One writer per exact index across processes; SIGKILL keeps every acknowledged point; readers in
other processes never see a half-written snapshot."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import embedspec
import numpy as np
import pytest
from embedspec.builtin.exact import ExactIndex
from embedspec.errors import IndexLockedError


def exact_spec(path) -> dict:
    return {"version": 1, "encoder": {"type": "hashing", "dim": 64}, "index": {"type": "exact", "path": str(path)}}


def start(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(proc: subprocess.Popen, prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and proc.poll() is not None:
            raise AssertionError(f"child exited ({proc.returncode}): {proc.stderr.read()}")
    raise AssertionError(f"no {prefix!r} from the child within {timeout} s")


WRITER = """
import json, sys, embedspec
spec = json.loads(sys.argv[1])
pipe = embedspec.build(spec)
pipe.add([f"first writer {i}" for i in range(3000)], ids=[f"a{i}" for i in range(3000)])
print("READY", flush=True)
sys.stdin.readline()
pipe.add([f"first writer again {i}" for i in range(3000)], ids=[f"b{i}" for i in range(3000)])
pipe.close()
print("DONE", flush=True)
"""


def test_a_second_writer_is_refused_naming_the_holder_and_the_first_loses_nothing(tmp_path):
    spec = exact_spec(tmp_path / "idx")
    first = start(WRITER, json.dumps(spec))
    try:
        wait_for(first, "READY")
        with pytest.raises(IndexLockedError) as exc:
            embedspec.build(spec)
        message = str(exc.value)
        assert str(tmp_path / "idx") in message and f"pid {first.pid}" in message
        reader = ExactIndex.open(tmp_path / "idx")  # reading needs no lock: the last flushed snapshot
        assert reader.count() == 3000
        first.stdin.write("go\n")
        first.stdin.flush()
        wait_for(first, "DONE")
    finally:
        first.kill()
        first.wait()
    with embedspec.build(spec) as pipe:  # the lock went with the first writer
        assert pipe.count() == 6000


KILLED_WRITER = """
import json, sys, embedspec
pipe = embedspec.build(json.loads(sys.argv[1]))
for batch in range(10_000):
    pipe.add([f"batch {batch} doc {i}" for i in range(40)], ids=[f"{batch}-{i}" for i in range(40)])
    print(f"ACK {batch}", flush=True)  # add() returns after a flush: these points are durable
"""


def test_sigkill_mid_ingestion_keeps_every_acknowledged_point(tmp_path):
    spec = exact_spec(tmp_path / "idx")
    child = start(KILLED_WRITER, json.dumps(spec))
    try:
        acked = -1
        while acked < 15:
            acked = int(wait_for(child, "ACK").split()[1])
        time.sleep(0.05)  # let it get into the middle of a later batch
        child.send_signal(signal.SIGKILL)
        child.wait()
        for line in child.stdout:  # acknowledgements printed before the kill
            if line.startswith("ACK"):
                acked = int(line.split()[1])
    finally:
        child.kill()
        child.wait()
    index = ExactIndex.open(tmp_path / "idx")
    stored = set(index._ids)
    missing = [f"{b}-{i}" for b in range(acked + 1) for i in range(40) if f"{b}-{i}" not in stored]
    assert not missing, f"{len(missing)} acknowledged points lost, e.g. {missing[:3]}"
    with embedspec.build(spec) as pipe:  # the kernel released the killed writer's lock
        pipe.add(["after the crash"])


GENERATIONS = """
import sys, numpy as np
from embedspec.builtin.exact import ExactIndex
index = ExactIndex(path=sys.argv[1], metric="dot")
ids = list(range(300))
for g in range(1, 10_000):
    index.upsert(ids, np.full((300, 8), g, dtype=np.float32), [{"g": g}] * 300)
    index.flush()
    if g == 1:
        print("STARTED", flush=True)
"""


def test_readers_in_other_processes_never_see_a_half_written_snapshot(tmp_path):
    writer = start(GENERATIONS, str(tmp_path / "idx"))
    try:
        wait_for(writer, "STARTED")
        checked, deadline = 0, time.monotonic() + 3.0
        while time.monotonic() < deadline:
            index = ExactIndex.open(tmp_path / "idx")
            gens = {p["g"] for p in index._payloads}
            vectors = index._vectors[: index.count()]
            assert len(gens) == 1, f"payloads of several generations at once: {sorted(gens)[:5]}"
            assert index.count() == 300 and np.all(vectors == gens.pop()), "vectors and payloads disagree"
            checked += 1
        assert checked > 5
    finally:
        writer.kill()
        writer.wait()


def test_lock_is_released_by_close_and_refused_within_one_process(tmp_path):
    spec = exact_spec(tmp_path / "idx")
    pipe = embedspec.build(spec)
    with pytest.raises(IndexLockedError, match="another open index object in this process"):
        embedspec.build(spec)
    pipe.close()
    embedspec.build(spec).close()
    assert os.listdir(tmp_path / "idx") == [] or ".embedspec-writer.json" not in os.listdir(tmp_path / "idx")
