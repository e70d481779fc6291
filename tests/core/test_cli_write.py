"""`embedspec index` checks the whole file before writing; read-only commands create nothing; bad
corpus files (fuzzed) give one located error line and no traceback."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from embedspec.cli import get_cli
from embedspec.corpus import check_jsonl
from embedspec.documents import content_id
from embedspec.errors import DatasetError

SPEC = "version: 1\nencoder: {{type: hashing, dim: 128}}\nindex: {{type: exact, path: {path}}}\n"
EMBEDSPEC = str(Path(sys.executable).with_name("embedspec"))


def run(*args: str):
    return CliRunner().invoke(get_cli(), [str(a) for a in args])


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(path=tmp_path / "idx"))
    return path


def test_a_second_file_without_ids_adds_rather_than_replaces(tmp_path, spec):
    first = write_jsonl(tmp_path / "a.jsonl", [{"text": "cats purr"}, {"text": "dogs bark"}])
    second = write_jsonl(tmp_path / "b.jsonl", [{"text": "birds sing"}])
    result = run("index", spec, "--input", first, "--no-progress")
    assert result.exit_code == 0 and "ids from the content (no 'id' field)" in result.output
    result = run("index", spec, "--input", second, "--no-progress")
    assert "indexed 1 document (1 new, 0 already there); the index holds 3" in result.output
    result = run("index", spec, "--input", first, "--no-progress")
    assert "indexed 2 documents (0 new, 2 already there); the index holds 3" in result.output
    hits = json.loads(run("search", spec, "cats purr", "-k", "1", "--json").output)[0]
    assert hits[0]["id"] == content_id("cats purr")


@pytest.mark.parametrize("bad_line, record, message", [
    (2000, {"id": "d3", "text": "a duplicate id across batches"}, "id 'd3' already used on line 4"),
    (4000, {"id": "x", "text": None}, "text field 'text' is null, not a string"),
    (4999, {"id": 7.5, "text": "float id"}, "field 'id': the id is float"),
])
def test_a_failed_index_command_leaves_the_index_exactly_as_before(tmp_path, spec, bad_line, record, message):
    seed = write_jsonl(tmp_path / "seed.jsonl", [{"id": f"s{i}", "text": f"seed {i}"} for i in range(100)])
    assert run("index", spec, "--input", seed, "--no-progress").exit_code == 0
    before = tree_digest(tmp_path / "idx")
    records = [{"id": f"d{i}", "text": f"document {i}"} for i in range(5000)]
    records[bad_line - 1] = record
    result = run("index", spec, "--input", write_jsonl(tmp_path / "big.jsonl", records), "--no-progress")
    assert result.exit_code == 1
    assert f"big.jsonl:{bad_line}: {message}" in result.output and "Traceback" not in result.output
    assert tree_digest(tmp_path / "idx") == before


def test_read_only_commands_create_nothing(tmp_path, spec):
    result = run("validate", spec)
    assert result.exit_code == 0 and "not created yet" in result.output
    result = run("search", spec, "anything")
    assert result.exit_code == 1 and "there is no index at" in result.output
    assert not (tmp_path / "idx").exists(), "validate and search must not create the index"
    docs = write_jsonl(tmp_path / "a.jsonl", [{"text": "cats purr"}])
    run("index", spec, "--input", docs, "--no-progress")
    before = tree_digest(tmp_path / "idx")
    assert "1 vector)" in run("validate", spec).output
    assert run("search", spec, "cats", "-k", "1").exit_code == 0
    assert tree_digest(tmp_path / "idx") == before


def test_k_out_of_range_is_a_usage_error(tmp_path, spec):
    for k in ("0", "-3", str(2**64), "ten"):
        result = run("search", spec, "q", "-k", k)
        assert result.exit_code == 2 and "Invalid value for '-k'" in result.output


# ---- fuzzing corpus files ------------------------------------------------------------------------
def _mutations(rng: random.Random) -> list[tuple[str, bytes]]:
    """(name, file bytes) of malformed corpora, each with exactly one bad line."""
    good = [json.dumps({"id": f"g{i}", "text": f"good text {i}", "n": i}).encode() for i in range(6)]
    bad_lines = [
        b'{"id": "x", "text": null}', b'{"id": "x", "text": 12345}', b'{"id": "x", "text": ["a"]}',
        b'{"id": "x", "text": {"a": 1}}', b'{"id": "x", "text": true}', b'{"id": "x", "text": ""}',
        b'{"id": "x", "text": "   "}', b'{"id": "x"}', b'{"id": 1.5, "text": "t"}', b'{"id": true, "text": "t"}',
        b'{"id": null, "text": "t"}', b'{"id": "", "text": "t"}', b'{"id": ["a"], "text": "t"}',
        b'{"id": "g1", "text": "duplicate id"}', b'{"id": "x", "text": "t", "score": NaN}',
        b'{"id": "x", "text": "t", "score": Infinity}', b'{"id": "x", "text": "t", "score": -Infinity}',
        b'{"id": "x", "text": "\xff\xfe"}', b'{"id": "x", "text": "t"', b'{"id": "x" "text": "t"}',
        b'[1, 2, 3]', b'"just a string"', b'42', b'null', b'{"id": "x", "text": "t"} trailing',
        b"{'id': 'x', 'text': 't'}", b'{"id": "x", "text": "\\ud800"', b'\x00\x01\x02', b'{' * 50_000,
        b'[' * 100_000 + b']' * 100_000, b'{"id": "' + b"i" * 5000 + b'", "text": "t"}',
        b'{"id": 123456789012345678901234567890123456789012345, "text": "t"}',
    ]
    cases = []
    for i, bad in enumerate(bad_lines):
        for where in (0, 3, 6):
            lines = list(good)
            lines.insert(where, bad)
            sep = rng.choice([b"\n", b"\r\n"])
            cases.append((f"case{i}-at{where}", sep.join(lines) + sep))
    cases.append(("mixed-ids", good[0] + b"\n" + b'{"text": "no id"}\n'))
    cases.append(("only-blank", b"\n\n  \n"))
    cases.append(("empty", b""))
    return cases


def test_fuzzed_corpus_files_give_a_located_error(tmp_path):
    cases = _mutations(random.Random(7))
    assert len(cases) >= 95
    outcomes = {"located error": 0, "wrongly accepted": 0, "other error": 0}
    for name, data in cases:
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(data)
        try:
            check_jsonl(path)
        except DatasetError as exc:
            located = f"{path}:" in str(exc) or (str(path) in str(exc) and "empty" in str(exc))
            outcomes["located error" if located else "other error"] += 1
            assert located, f"{name}: {exc}"
        except Exception as exc:  # pragma: no cover - a failure of the test
            outcomes["other error"] += 1
            raise AssertionError(f"{name}: {type(exc).__name__}: {exc}") from exc
        else:
            outcomes["wrongly accepted"] += 1
            raise AssertionError(f"{name} was accepted")
    print(f"corpus fuzz: tried {len(cases)}: {outcomes}")


def test_fuzzed_corpus_files_through_the_real_command_print_no_traceback(tmp_path, spec):
    cases = _mutations(random.Random(11))[::5]
    for name, data in cases:
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(data)
        proc = subprocess.run([EMBEDSPEC, "index", str(spec), "--input", str(path), "--no-progress"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, f"{name}: exit {proc.returncode}"
        assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: "), f"{name}: {proc.stderr}"
    assert not (tmp_path / "idx").exists()


def test_a_huge_line_is_refused_with_bounded_memory(tmp_path, spec):
    huge = tmp_path / "huge.jsonl"
    with huge.open("w") as fh:
        fh.write('{"id": "a", "text": "fine"}\n{"id": "b", "text": "' + "x" * 50_000_000 + '"}\n')
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, repr(p.stderr))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, EMBEDSPEC, "index", str(spec), "--input", str(huge)],
                         capture_output=True, text=True, timeout=300).stdout
    code_, rss_kb, stderr = out.split(" ", 2)
    assert code_ == "1" and "huge.jsonl:2: the line is longer than 8,388,608 bytes" in stderr
    assert int(rss_kb) < 400_000, f"peak memory {int(rss_kb) / 1024:.0f} MiB for a 50 MB line"
