"""Spec loading that cannot hang or crash: files, encodings, alias bombs, depth, duplicates, strict types."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from embedspec.errors import SpecError
from embedspec.spec import load_spec, parse_yaml
from embedspec.spec_source import MAX_DEPTH, MAX_NODES, MAX_SPEC_BYTES

GOOD = textwrap.dedent("""\
    version: 1
    encoder:
      type: hashing
      dim: 256
    compressors:
      - type: binary
        oversampling: 4
    index:
      type: exact
    """)

BOMB = textwrap.dedent("""\
    version: 1
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    encoder: {type: hashing, x: *i}
    index: {type: exact}
    """)


def issues_of(source) -> list:
    with pytest.raises(SpecError) as exc:
        load_spec(source)
    return exc.value.issues


def write(tmp_path, name: str, data: str | bytes):
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# ---- YAML: aliases, depth, duplicates, one parse ---------------------------------------------------
def test_alias_bomb_fails_fast_with_its_line():
    start = time.perf_counter()
    (issue,) = issues_of(BOMB)
    assert time.perf_counter() - start < 0.5
    assert issue.path == "<yaml>"
    assert f"past {MAX_NODES:,} nodes (an alias bomb?)" in issue.message
    assert issue.line == 5  # d: the first level whose expansion passes the limit


def test_alias_bomb_in_a_subprocess_stays_small(tmp_path):
    """Seconds and peak memory of loading the bomb, in a fresh interpreter (VmHWM: this process's own
    peak resident set; ``ru_maxrss`` would carry the forking pytest's peak over the exec)."""
    path = write(tmp_path, "bomb.yaml", BOMB)
    code = textwrap.dedent(f"""\
        import json, re, time
        from embedspec.errors import SpecError
        from embedspec.spec import load_spec

        def peak_mb():
            with open("/proc/self/status") as fh:
                return int(re.search(r"VmHWM:\\s+(\\d+) kB", fh.read()).group(1)) / 1024

        before = peak_mb()
        start = time.perf_counter()
        try:
            load_spec({str(path)!r})
        except SpecError as exc:
            message = str(exc)
        seconds = time.perf_counter() - start
        print(json.dumps({{"seconds": seconds, "peak_mb": peak_mb(), "growth_mb": peak_mb() - before,
                           "message": message}}))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    print(f"alias bomb ({len(BOMB)} bytes): {result['seconds'] * 1000:.1f} ms, peak RSS {result['peak_mb']:.1f} MB "
          f"for the whole interpreter (+{result['growth_mb']:.1f} MB while loading)")
    assert "alias bomb" in result["message"]
    assert result["seconds"] < 0.5
    assert result["peak_mb"] < 100


@pytest.mark.parametrize("text, where", [
    ("version: 1\nencoder: &a [*a]\nindex: {type: exact}\n", "recursive"),
    ("version: 1\nencoder: &a {x: *a}\nindex: {type: exact}\n", "recursive"),
])
def test_recursive_alias_is_refused(text, where):
    (issue,) = issues_of(text)
    assert where in issue.message and issue.line == 2


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_deep_nesting_is_a_located_error_not_a_recursion_error(depth):
    (issue,) = issues_of("version: 1\nencoder: " + "[" * depth + "]" * depth + "\nindex: {type: exact}\n")
    assert issue.message == f"the spec nests deeper than {MAX_DEPTH} levels"
    assert issue.line == 2


def test_too_many_nodes():
    (issue,) = issues_of("version: 1\nencoder: {type: hashing, x: [" + "1," * (MAX_NODES + 10) + "]}\n")
    assert f"more than {MAX_NODES:,} YAML nodes" in issue.message and issue.line == 2


def test_duplicate_keys_name_both_lines():
    text = "version: 1\nencoder:\n  type: hashing\n  dim: 16\n  type: exact\nindex: {type: exact, metric: dot, metric: l2}\n"
    issues = issues_of(text)
    assert [(i.path, i.line) for i in issues] == [("encoder.type", 5), ("index.metric", 6)]
    assert issues[0].message == "key 'type' is given twice (line 3 and line 5); keep one"
    assert "line 6 and line 6" in issues[1].message


def test_duplicate_top_level_key_and_equal_scalars():
    issues = issues_of("version: 1\nversion: 1\nencoder: {type: hashing, 1: a, 0x1: b}\nindex: {type: exact}\n")
    assert [(i.path, i.line) for i in issues] == [("version", 2), ("encoder.1", 3)]  # 0x1 is the integer 1


def test_merge_keys_are_not_duplicates():
    text = "version: 1\nencoder: {type: hashing, dim: 8}\ncompressors: [{<<: {type: matryoshka, dim: 4}, dim: 2}]\n" \
           "index: {type: exact}\n"
    assert load_spec(text).compressors[0].config.dim == 2


def test_parse_once_gives_data_and_positions():
    data, pos = parse_yaml(GOOD)
    assert data["compressors"][0] == {"type": "binary", "oversampling": 4}
    assert pos["compressors[0].oversampling"] == (7, 5)
    assert pos["index.type"] == (9, 3)


# ---- files and bytes -----------------------------------------------------------------------------
def test_file_errors(tmp_path):
    txt = write(tmp_path, "spec.txt", GOOD)
    (issue,) = issues_of(str(txt))
    assert issue.message == "a spec file's name ends in .yaml or .yml (got 'spec.txt')"
    assert "does not exist" in issues_of(str(tmp_path / "nope.yaml"))[0].message
    (tmp_path / "dir.yaml").mkdir()
    assert "is a directory" in issues_of(tmp_path / "dir.yaml")[0].message
    big = write(tmp_path, "big.yaml", GOOD + "#" * MAX_SPEC_BYTES)
    assert f"a spec is at most {MAX_SPEC_BYTES:,}" in issues_of(big)[0].message
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in issues_of(fifo)[0].message


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, "secret.yaml", GOOD)
    path.chmod(0)
    try:
        assert "cannot read spec file" in issues_of(path)[0].message
    finally:
        path.chmod(0o600)


def test_single_line_string_is_a_path_multi_line_is_text(tmp_path):
    assert "ends in .yaml or .yml" in issues_of("version: 1")[0].message
    assert load_spec(GOOD).encoder.config.dim == 256
    path = write(tmp_path, "good.yml", GOOD)
    assert load_spec(str(path)).source == str(path)


@pytest.mark.parametrize("data, message, line", [
    (b"version: 1\nencoder: {type: hashing}\x00\n", "holds a NUL byte (a binary file?)", 2),
    (b"version: 1\nencoder: {type: caf\xe9}\n", "not UTF-8 text (byte 0xe9)", 2),
    ("version: 1\n".encode("utf-16"), "UTF-16", 1),
    (b"version: 1\nencoder: {type: \x1b[31m}\n", "control character (#x001b)", 2),
    (b"version: 1\nencoder:\n\ttype: hashing\n", "YAML syntax error", 3),
])
def test_bad_bytes_are_located(tmp_path, data, message, line):
    (issue,) = issues_of(write(tmp_path, "bad.yaml", data))
    assert message in issue.message and issue.line == line


def test_bom_and_crlf_are_fine(tmp_path):
    path = write(tmp_path, "bom.yaml", b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert load_spec(path).index.type == "exact"


@pytest.mark.parametrize("text, message", [
    ("", "this one is empty"),
    ("# only a comment\n", "this one is empty"),
    ("- 1\n- 2\n", "this one is a list"),
    ("42\n", "this one is a number"),
    ("just text\n", "this one is a string"),
    ("version: 1\n---\nversion: 1\n", "expected a single document"),
])
def test_roots_that_are_not_a_mapping(tmp_path, text, message):
    (issue,) = issues_of(write(tmp_path, "root.yaml", text))
    assert message in issue.message


# ---- strict types and bounds ---------------------------------------------------------------------
@pytest.mark.parametrize("value, got", [
    ("true", "True (bool)"), ("1.0", "1.0 (float)"), ('"1"', "'1' (str)"), ("2", "2 (int)"), ("null", "nothing"),
])
def test_version_is_the_integer_one(value, got):
    (issue,) = issues_of(GOOD.replace("version: 1", f"version: {value}"))
    assert (issue.path, issue.line, issue.message) == ("version", 1, f"must be the integer 1, got {got}")


@pytest.mark.parametrize("field, value, message", [
    ("dim", "true", "expected a number, not a boolean (got True)"),
    ("dim", "256.0", "expected an integer, not a float (got 256.0)"),
    ("dim", "10000000000000000000000000000000", "the number is too large"),
    ("dim", "70000", "Input should be less than or equal to 65536 (got 70000)"),
    ("ngram_range", "[1, true]", "item 1: expected a number, not a boolean"),
    ("seed", "-1", "greater than or equal to 0"),
])
def test_encoder_numbers_are_numbers(field, value, message):
    (issue,) = issues_of(GOOD.replace("dim: 256", f"{field}: {value}"))
    assert issue.path == f"encoder.{field}" and issue.line == 4
    assert message in issue.message
    assert (issue.component, issue.plugin) == ("hashing", "embedspec.builtin")


@pytest.mark.parametrize("value, message", [
    (".inf", "Input should be a finite number"), ("-.inf", "Input should be a finite number"),
    (".nan", "Input should be a finite number"), ("1e400", "Input should be a finite number"),
    ("false", "expected a number, not a boolean"), ("5000", "less than or equal to 1000"),
])
def test_oversampling_is_finite_and_bounded(value, message):
    (issue,) = issues_of(GOOD.replace("oversampling: 4", f"oversampling: {value}"))
    assert (issue.path, issue.line) == ("compressors[0].oversampling", 7)
    assert message in issue.message


def test_ints_stay_good_for_float_fields_and_env_strings_for_ints(monkeypatch):
    monkeypatch.setenv("EMBEDSPEC_TEST_DIM", "64")
    spec = load_spec(GOOD.replace("dim: 256", "dim: ${EMBEDSPEC_TEST_DIM}"))
    assert spec.encoder.config.dim == 64 and spec.compressors[0].config.oversampling == 4.0


def test_issues_are_sorted_by_line():
    text = "version: 2\nencoder: {type: hashing, dim: true}\ncompressors: [{type: binary, oversampling: .nan}]\n" \
           "index: {type: exact, metric: l3}\nzzz: 1\n"
    issues = issues_of(text)
    assert [i.line for i in issues] == [1, 2, 3, 4, 5]
    assert [i.path for i in issues] == ["version", "encoder.dim", "compressors[0].oversampling", "index.metric", "zzz"]


def test_mapping_input_is_bounded_too():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["x"] = {}
        node = node["x"]
    issues = issues_of({"version": 1, "encoder": {"type": "hashing", "dim": deep}, "index": {"type": "exact"}})
    assert "nested deeper than" in issues[0].message
    cyclic: dict = {"type": "hashing"}
    cyclic["self"] = cyclic
    assert "nested deeper than" in issues_of({"version": 1, "encoder": cyclic, "index": {"type": "exact"}})[0].message
