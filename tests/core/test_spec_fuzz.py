"""Fuzz: hundreds of generated malformed specs, each refused with a located error, fast, without a traceback.

The cases are programmatic mutations of valid specs (wrong types, booleans for numbers, huge, infinite
and NaN numbers, unknown and duplicated keys, missing and unknown types, bad versions), alias bombs of
several shapes, deep nesting, binary and non-UTF-8 bytes, NUL, BOM, tabs, empty files, non-mapping
roots and wrong file names. Every case runs through ``build`` in-process; a spread subset runs through
the real CLI (``python -m embedspec validate FILE``) in a subprocess. The summary (tried / located
error / traceback / hang / wrongly accepted) is printed, and written as JSON to
``$EMBEDSPEC_FUZZ_SUMMARY`` when that is set.
"""

from __future__ import annotations

import copy
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
import yaml
from embedspec.config_rules import _options
from embedspec.errors import SpecError
from embedspec.pipeline import build
from embedspec.plugins import get_registry

IN_PROCESS_LIMIT_S = 5.0  # per case; a case still running then is a hang
CLI_LIMIT_S = 60.0  # per CLI run, interpreter start-up included
CLI_CASES = 40

BASES: dict[str, dict[str, Any]] = {
    "hashing-exact": {
        "version": 1,
        "encoder": {"type": "hashing", "dim": 256, "ngram_range": [3, 5], "word_ngrams": 2, "lowercase": True,
                    "sublinear_tf": True, "seed": 0, "batch_size": 64},
        "index": {"type": "exact", "metric": "cosine"},
    },
    "chain": {
        "version": 1,
        "encoder": {"type": "hashing", "dim": 128},
        "compressors": [{"type": "matryoshka", "dim": 64, "normalize": True},
                        {"type": "binary", "rescore": True, "oversampling": 4.0, "center": False}],
        "index": {"type": "exact", "dim": 64},
    },
    "pq": {
        "version": 1,
        "encoder": {"type": "hashing", "dim": 128},
        "compressors": [{"type": "pq", "m": 8, "nbits": 8, "iterations": 5, "seed": 1, "sample": 1000,
                         "oversampling": 2.0, "rescore": True}],
        "index": {"type": "exact"},
    },
    "int8": {
        "version": 1,
        "encoder": {"type": "hashing", "dim": 128},
        "compressors": [{"type": "int8", "quantile": 0.99, "oversampling": 2.0, "rescore": True}],
        "index": {"type": "exact", "metric": "dot"},
    },
    "qdrant": {
        "version": 1,
        "encoder": {"type": "hashing", "dim": 64},
        "index": {"type": "qdrant", "location": ":memory:", "collection": "docs", "hnsw_m": 16, "batch_size": 128,
                  "timeout": 10, "max_retries": 3, "quantization_oversampling": 2.0, "prefer_grpc": False},
    },
}


@dataclass
class Case:
    """One malformed spec: file bytes (or a mapping), and where its error must point."""

    name: str
    category: str
    data: bytes | None = None
    filename: str = "spec.yaml"
    mapping: dict[str, Any] | None = None
    path: str | None = None  # the spec path an issue must name
    line: int | None = None  # the line that issue must give (None: the input has no line for it)
    make: str = "file"  # file | dir | missing | fifo
    env: dict[str, str] = field(default_factory=dict)


# ---- generation ---------------------------------------------------------------------------------
def _dump(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=False)


def _line_of(text: str, path: list[Any]) -> int:
    """Line (1-based) of the key (or item) at ``path`` in ``text``, found with PyYAML's own composer."""
    node = yaml.compose(text)
    line = node.start_mark.line
    for part in path:
        if isinstance(node, yaml.MappingNode):
            key, node = next((k, v) for k, v in node.value if k.value == str(part))
            line = key.start_mark.line
        else:
            node = node.value[part]
            line = node.start_mark.line
    return line + 1


def _dotted(path: list[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind(annotation: Any) -> str:
    options = [o for o in _options(annotation) if o is not type(None)]
    if any(get_origin(o) is tuple for o in options):
        return "pair"
    if any(get_origin(o) is dict for o in options):
        return "mapping"
    if int in options and float not in options:
        return "int"
    if float in options:
        return "float"
    if options == [bool]:
        return "bool"
    literal = [o for o in options if get_origin(o) is Literal]
    if literal:
        values = [v for o in literal for v in get_args(o)]
        return "choice-int" if all(isinstance(v, int) for v in values) else "choice"
    return "text"


BAD_VALUES: dict[str, list[Any]] = {
    "int": [True, False, 1.5, 256.0, 10**31, -(10**31), "abc", [1], {"a": 1}, float("inf"), float("nan")],
    "float": [True, False, float("inf"), float("-inf"), float("nan"), 10**31, "abc", [1.0], {"a": 1}],
    "bool": [2, 0, 1.5, "maybe", [True], {"a": 1}, b"yes"],
    "choice": [5, True, [1], {"a": 1}, "no-such-choice", ""],
    "choice-int": [True, 5, 3.0, "x"],
    "text": [5, True, 1.5, [1], {"a": 1}, b"\x00bin"],
    "pair": [[1, True], [1], [1, 2, 3], "3,5", [1.5, 2], True],
    "mapping": [[1], "abc", 5, {"lang": "no-such-type"}],
}


def _field_cases() -> list[Case]:
    registry = get_registry()
    cases = []
    for base_name, base in BASES.items():
        blocks: list[tuple[list[Any], str, dict[str, Any]]] = [(["encoder"], "encoder", base["encoder"]),
                                                               (["index"], "index", base["index"])]
        blocks += [(["compressors", i], "compressor", c) for i, c in enumerate(base.get("compressors", []))]
        for where, kind, block in blocks:
            model = registry.get(kind, block["type"]).config_model
            for name in block:
                if name == "type":
                    continue
                field_kind = _kind(model.model_fields[name].annotation)
                for j, bad in enumerate(BAD_VALUES[field_kind]):
                    if field_kind == "text" and name in ("location",) and bad == "":
                        continue
                    spec = copy.deepcopy(base)
                    target = spec
                    for part in where:
                        target = target[part]
                    target[name] = bad
                    text = _dump(spec)
                    path = [*where, name]
                    cases.append(Case(f"{base_name}:{_dotted(path)}={bad!r:.20}#{j}", f"field-{field_kind}",
                                      text.encode(), path=_dotted(path), line=_line_of(text, path)))
            # an unknown field and a misspelt one in every block
            for extra in ("dimm", "no_such_field"):
                spec = copy.deepcopy(base)
                target = spec
                for part in where:
                    target = target[part]
                target[extra] = 1
                text = _dump(spec)
                path = [*where, extra]
                cases.append(Case(f"{base_name}:{_dotted(path)}", "unknown-field", text.encode(),
                                  path=_dotted(path), line=_line_of(text, path)))
            # the type: missing, empty, wrong type, unknown, another kind's name
            for j, bad_type in enumerate([None, "", 5, True, ["hashing"], {"a": 1}, "no-such-type", "Hashing",
                                          "exact" if kind != "index" else "hashing"]):
                spec = copy.deepcopy(base)
                target = spec
                for part in where:
                    target = target[part]
                target["type"] = bad_type
                text = _dump(spec)
                cases.append(Case(f"{base_name}:{_dotted(where)}.type={bad_type!r}#{j}", "type", text.encode(),
                                  path=_dotted([*where, "type"]), line=_line_of(text, [*where, "type"])))
    return cases


def _structure_cases() -> list[Case]:
    base = BASES["chain"]
    cases = []
    for j, version in enumerate([True, False, 1.0, "1", 2, 0, -1, None, [1], {"v": 1}, 1.5, float("inf"),
                                 float("nan"), "one", 10**40]):
        spec = {**base, "version": version}
        text = _dump(spec)
        cases.append(Case(f"version={version!r}#{j}", "version", text.encode(), path="version",
                          line=_line_of(text, ["version"])))
    text = _dump({k: v for k, v in base.items() if k != "version"})
    cases.append(Case("version-missing", "version", text.encode(), path="version", line=1))
    for block in ("encoder", "index"):
        text = _dump({k: v for k, v in base.items() if k != block})
        cases.append(Case(f"{block}-missing", "structure", text.encode(), path=block, line=None))
        for j, bad in enumerate([[1], "hashing", 5, None, True, []]):
            text = _dump({**base, block: bad})
            cases.append(Case(f"{block}={bad!r}#{j}", "structure", text.encode(), path=block,
                              line=_line_of(text, [block])))
    for j, bad in enumerate([{"type": "binary"}, "binary", 5, [5], [None], [[]], True]):
        text = _dump({**base, "compressors": bad})
        path = "compressors" if not isinstance(bad, list) else "compressors[0]"
        cases.append(Case(f"compressors={bad!r}#{j}", "structure", text.encode(), path=path,
                          line=_line_of(text, ["compressors"] if not isinstance(bad, list) else ["compressors", 0])))
    for key in ("indx", "encoders", "Version", "comressors", "extra"):
        text = _dump({**base, key: 1})
        cases.append(Case(f"top-level {key}", "structure", text.encode(), path=key, line=_line_of(text, [key])))
    good = _dump(base)
    for j, extra in enumerate(["1: x\n", "null: x\n", "[a]: b\n", "? {a: 1}\n: b\n", "true: 1\n"]):
        text = good + extra
        cases.append(Case(f"odd top-level key #{j}", "structure", text.encode(), line=good.count("\n") + 1))
    return cases


def _duplicate_cases() -> list[Case]:
    cases = []
    for base_name, base in BASES.items():
        text = _dump(base)
        lines = text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            stripped = line.lstrip(" -")
            if ":" not in stripped or line.strip().endswith(":"):
                continue
            indent = len(line) - len(line.lstrip(" "))
            copy_line = " " * indent + stripped if line.lstrip().startswith("- ") else line
            if line.lstrip().startswith("- "):
                copy_line = " " * (indent + 2) + stripped
            mutated = "".join(lines[: i + 1] + [copy_line] + lines[i + 1:])
            cases.append(Case(f"{base_name}: duplicate line {i + 1} ({stripped.strip()[:20]})", "duplicate-key",
                              mutated.encode(), line=i + 2))
    return cases


def _bomb(width: int, depth: int, mapping: bool = False, where: str = "top") -> str:
    rows = []
    for level in range(depth):
        items = ['"lol"'] * width if level == 0 else [f"*a{level - 1}"] * width
        body = "{" + ", ".join(f"k{i}: {v}" for i, v in enumerate(items)) + "}" if mapping else f"[{', '.join(items)}]"
        rows.append(f"  a{level}: &a{level} {body}" if where == "field" else f"a{level}: &a{level} {body}")
    if where == "field":
        return "version: 1\nencoder:\n  type: hashing\n" + "\n".join(rows) + "\nindex: {type: exact}\n"
    return "version: 1\n" + "\n".join(rows) + f"\nencoder: {{type: hashing, x: *a{depth - 1}}}\nindex: {{type: exact}}\n"


def _bomb_cases() -> list[Case]:
    cases = []
    for width, depth in [(9, 9), (10, 10), (2, 40), (3, 25), (20, 6), (100, 4), (5, 12), (50, 5)]:
        for mapping in (False, True):
            for where in ("top", "field"):
                text = _bomb(width, depth, mapping, where)
                cases.append(Case(f"bomb {width}x{depth} {'map' if mapping else 'list'} {where}", "alias-bomb",
                                  text.encode(), path="<yaml>", line=-1))
    long = "x" * 200_000
    cases.append(Case("bomb long string x20", "alias-bomb",
                      f"version: 1\ns: &s {long}\nencoder: {{type: hashing, x: [{', '.join(['*s'] * 20)}]}}\n".encode(),
                      path="<yaml>", line=-1))
    cases.append(Case("bomb 30k aliases", "alias-bomb",
                      ("version: 1\na: &a 1\nb: [" + "*a," * 30_000 + "]\n").encode(), path="<yaml>", line=-1))
    merge = "version: 1\nm0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6}\n"
    merge += "".join(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}, *m{i - 1}], k{i}: 1}}\n" for i in range(1, 16))
    cases.append(Case("bomb via merge keys", "alias-bomb", (merge + "encoder: {type: hashing}\n").encode(),
                      path="<yaml>", line=-1))
    for j, text in enumerate(["version: 1\nencoder: &a [*a]\n", "version: 1\nencoder: &a {type: hashing, x: *a}\n",
                              "version: 1\nencoder: &a {type: hashing, x: [[{y: *a}]]}\n",
                              "version: 1\nencoder: &e {<<: *e}\n"]):
        cases.append(Case(f"recursive alias #{j}", "alias-bomb", text.encode(), line=2))
    return cases


def _deep_cases() -> list[Case]:
    cases = []
    for n in (65, 100, 1_000, 50_000, 300_000):
        cases.append(Case(f"deep [ x{n}", "deep", ("version: 1\nencoder: " + "[" * n + "]" * n + "\n").encode(),
                          path="<yaml>", line=2))
        cases.append(Case(f"deep unclosed [ x{n}", "deep", ("version: 1\nencoder: " + "[" * n).encode(),
                          path="<yaml>", line=2))
    for n in (70, 500, 5_000):
        cases.append(Case(f"deep {{a: x{n}", "deep", ("version: 1\nencoder: " + "{a: " * n + "1" + "}" * n + "\n").encode(),
                          path="<yaml>", line=2))
        cases.append(Case(f"deep [{{ x{n}", "deep", ("version: 1\nencoder: " + "[{a: " * n).encode(), path="<yaml>", line=2))
    for n in (70, 300):
        block = "".join("  " * i + f"k{i}:\n" for i in range(1, n)) + "  " * n + "v\n"
        cases.append(Case(f"deep block mapping x{n}", "deep", ("version: 1\nencoder:\n" + block).encode(),
                          path="<yaml>", line=65))  # key k63 on line 65 is the 65th level (keys are nodes)
        cases.append(Case(f"deep block sequence x{n}", "deep", ("version: 1\nencoder: " + "- " * n + "x\n").encode(),
                          path="<yaml>", line=2))
    cases.append(Case("deep inside a field", "deep",
                      ("version: 1\nencoder:\n  type: hashing\n  dim: " + "[" * 200 + "]" * 200 + "\n").encode(),
                      path="<yaml>", line=4))
    return cases


def _byte_cases() -> list[Case]:
    good = _dump(BASES["chain"])
    raw = good.encode()
    cases = []
    rng = random.Random(11)
    for j in range(12):
        cases.append(Case(f"random bytes #{j}", "bytes", bytes(rng.randrange(256) for _ in range(64 + 64 * j)), line=-1))
    cases += [
        Case("latin-1 text", "bytes", good.replace("cosine", "caf\u00e9").encode("latin-1") + "x: caf\u00e9\n".encode("latin-1"),
             line=good.count("\n") + 1),
        Case("utf-16 le with BOM", "bytes", good.encode("utf-16"), line=1),
        Case("utf-16 be with BOM", "bytes", b"\xfe\xff" + good.encode("utf-16-be"), line=1),
        Case("utf-16 without BOM", "bytes", good.encode("utf-16-le"), line=1),
        Case("utf-32", "bytes", good.encode("utf-32"), line=1),
        Case("NUL at the end", "bytes", raw + b"\x00", line=good.count("\n") + 1),
        Case("NUL in a value", "bytes", raw.replace(b"hashing", b"hash\x00ing"), line=3),
        Case("NUL at the start", "bytes", b"\x00" + raw, line=1),
        Case("BOM then NUL", "bytes", b"\xef\xbb\xbf\x00" + raw, line=1),
        Case("lone surrogate bytes", "bytes", raw.replace(b"hashing", b"hash\xed\xa0\x80ing"), line=3),
        Case("overlong slash", "bytes", raw.replace(b"hashing", b"hash\xc0\xafing"), line=3),
        Case("truncated multibyte at EOF", "bytes", raw + b"x: \xe2\x82", line=good.count("\n") + 1),
        Case("lone continuation byte", "bytes", raw.replace(b"index", b"ind\x80ex"), line=_line_of(good, ["index"])),
        Case("tab indentation", "bytes", raw.replace(b"  type: hashing", b"\ttype: hashing"), line=3),
        Case("tab indentation with BOM", "bytes", b"\xef\xbb\xbf" + raw.replace(b"  type: hashing", b"\ttype: hashing"),
             line=3),
        Case("gzip magic", "bytes", b"\x1f\x8b\x08\x00" + raw, line=1),
        Case("PNG header", "bytes", b"\x89PNG\r\n\x1a\n" + raw, line=1),
        Case("ELF header", "bytes", b"\x7fELF\x02\x01\x01\x00" + raw, line=1),
    ]
    for code in [*range(1, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]:
        cases.append(Case(f"control char #x{code:02x}", "bytes", raw.replace(b"hashing", b"hash" + bytes([code]) + b"ing"),
                          line=3))
    return cases


def _root_cases() -> list[Case]:
    texts = ["", "\n\n\n", "# only a comment\n", "---\n", "...\n", "~\n", "null\n", "--- !!null ''\n", "   \n",
             "42\n", "'text'\n", "[1, 2]\n", "- a\n- b\n", "true\n", "3.5\n", "!!binary aGVsbG8=\n", "2001-12-14\n",
             "version: 1\n---\nversion: 1\n", "--- 1\n--- 2\n"]
    return [Case(f"root {t[:16]!r}", "root", t.encode(), line=None) for t in texts]


def _syntax_cases() -> list[Case]:
    good = _dump(BASES["chain"])
    broken = {
        "unclosed flow": "version: 1\nencoder: {type: hashing, dim: [1, 2\nindex: {type: exact}\n",
        "unclosed quote": 'version: 1\nencoder: {type: "hashing}\nindex: {type: exact}\n',
        "bad indentation": "version: 1\nencoder:\n    type: hashing\n  dim: 4\nindex: {type: exact}\n",
        "value: value": "version: 1\nencoder: type: hashing\n",
        "undefined alias": "version: 1\nencoder: *nope\n",
        "duplicate anchor": "version: 1\nencoder: &a {type: hashing}\nindex: &a {type: exact}\n",
        "python object tag": "version: 1\nencoder: !!python/object/apply:os.system ['true']\n",
        "python name tag": "version: 1\nencoder: !!python/name:os.system\n",
        "unknown local tag": "version: 1\nencoder: !foo {type: hashing}\n",
        "bad binary": "version: 1\nencoder: {type: hashing, x: !!binary '@@@'}\n",
        "bad timestamp tag": "version: 1\nencoder: {type: hashing, x: !!timestamp 'nope'}\n",
        "bad int tag": "version: 1\nencoder: {type: hashing, dim: !!int 'abc'}\n",
        "unhashable key": "version: 1\nencoder: {[a]: b}\n",
        "directive garbage": "%YAML 9.9\n--- \nversion: 1\n",
        "stray bracket": "version: 1\n]\n",
        "block in flow": "version: 1\nencoder: [a,\n- b]\n",
        "tab after dash": good.replace("- type: matryoshka", "-\ttype: matryoshka"),
        "reserved indicator": "version: 1\nencoder: @hashing\n",
    }
    return [Case(f"syntax: {name}", "syntax", text.encode(), line=-1) for name, text in broken.items()]


def _file_cases() -> list[Case]:
    good = _dump(BASES["chain"]).encode()
    cases = [Case(f"file name {name}", "file-name", good, filename=name, line=None)
             for name in ("spec.txt", "spec.json", "spec.yaml.bak", "spec", "spec.yam", "spec.ymal", ".yaml.txt",
                          "spec.YAML.gz")]
    cases += [Case("missing file", "file", make="missing", line=None), Case("directory", "file", make="dir", line=None),
              Case("fifo", "file", make="fifo", line=None),
              Case("over 1 MiB", "file", good + b"#" * (1 << 20), line=None),
              Case("1 MiB of one scalar", "file", b"version: 1\nencoder: {type: hashing, x: " + b"a" * 1_000_000 + b"}\n",
                   line=2),
              Case("many nodes", "file", b"version: 1\nencoder: {type: hashing, x: [" + b"1," * 200_000 + b"]}\n",
                   line=2)]
    return cases


def _env_cases() -> list[Case]:
    base = BASES["qdrant"]
    cases = []
    for name, value, env in [("unset", "${EMBEDSPEC_FUZZ_UNSET}", {}),
                             ("not a number", "${EMBEDSPEC_FUZZ_VALUE}", {"EMBEDSPEC_FUZZ_VALUE": "SECRET-FUZZ-1"}),
                             ("bool from env", "${EMBEDSPEC_FUZZ_VALUE}", {"EMBEDSPEC_FUZZ_VALUE": "true"}),
                             ("huge from env", "${EMBEDSPEC_FUZZ_VALUE}", {"EMBEDSPEC_FUZZ_VALUE": "1" * 40}),
                             ("inf from env", "${EMBEDSPEC_FUZZ_VALUE}", {"EMBEDSPEC_FUZZ_VALUE": "inf"})]:
        for field_name in ("timeout", "hnsw_m", "quantization_oversampling"):
            if name == "bool from env" and field_name == "quantization_oversampling":
                continue
            spec = copy.deepcopy(base)
            spec["index"][field_name] = value
            text = _dump(spec)
            cases.append(Case(f"env {name} -> {field_name}", "env", text.encode(), path=f"index.{field_name}",
                              line=_line_of(text, ["index", field_name]), env=env))
    return cases


def _mapping_cases() -> list[Case]:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(3000):
        node["x"] = {}
        node = node["x"]
    cyclic: dict[str, Any] = {"type": "hashing"}
    cyclic["self"] = cyclic
    spec = BASES["chain"]
    return [
        Case("mapping: deep", "mapping", mapping={**spec, "encoder": {"type": "hashing", "x": deep}}, path="encoder.x"),
        Case("mapping: cyclic", "mapping", mapping={**spec, "encoder": cyclic}, path="encoder"),
        Case("mapping: dim true", "mapping", mapping={**spec, "encoder": {"type": "hashing", "dim": True}},
             path="encoder.dim"),
        Case("mapping: version True", "mapping", mapping={**spec, "version": True}, path="version"),
        Case("mapping: oversampling nan", "mapping",
             mapping={**spec, "compressors": [{"type": "binary", "oversampling": float("nan")}]},
             path="compressors[0].oversampling"),
        Case("mapping: int keys", "mapping", mapping={**spec, "index": {"type": "exact", 3: 4}}, path="index.3"),
    ]


def generate_cases() -> list[Case]:
    cases = (_field_cases() + _structure_cases() + _duplicate_cases() + _bomb_cases() + _deep_cases()
             + _byte_cases() + _root_cases() + _syntax_cases() + _file_cases() + _env_cases() + _mapping_cases())
    names = Counter(c.name for c in cases)
    dupes = [n for n, k in names.items() if k > 1]
    if dupes:
        raise RuntimeError(f"duplicate case names: {dupes[:5]}")
    return cases


# ---- running ------------------------------------------------------------------------------------
class _Hang(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Hang()


def materialize(case: Case, folder: Path) -> Any:
    """The argument given to ``build``: a path (file, directory, missing, FIFO) or a mapping."""
    if case.mapping is not None:
        return case.mapping
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case.filename
    if case.make == "dir":
        path.mkdir(exist_ok=True)
    elif case.make == "fifo":
        if not path.exists():
            os.mkfifo(path)
    elif case.make == "file":
        path.write_bytes(case.data or b"")
    return path


def located(case: Case, issues: list[Any], message: str) -> str | None:
    """Why the error is not located as the case requires, or ``None``."""
    if not issues:
        return "no issues"
    if case.path is not None and not any(i.path == case.path or i.path.startswith(case.path) for i in issues):
        return f"no issue at {case.path}: {[i.path for i in issues]}"
    if case.line == -1 and not any(i.line for i in issues):
        return "no line"
    if case.line not in (None, -1):
        relevant = [i for i in issues if case.path is None or i.path.startswith(case.path)]
        if not any(i.line == case.line for i in relevant):
            return f"expected line {case.line}, got {[(i.path, i.line) for i in relevant]}"
    if "Traceback" in message:
        return "traceback in the message"
    return None


def run_in_process(case: Case, folder: Path) -> tuple[str, str, float]:
    """(outcome, detail, seconds): outcome is located | unlocated | traceback | hang | accepted."""
    target = materialize(case, folder)
    saved = {k: os.environ.get(k) for k in case.env}
    os.environ.update(case.env)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, IN_PROCESS_LIMIT_S)
    start = time.perf_counter()
    try:
        pipeline = build(target)
    except _Hang:
        return "hang", f"still running after {IN_PROCESS_LIMIT_S} s", time.perf_counter() - start
    except SpecError as exc:
        seconds = time.perf_counter() - start
        why = located(case, exc.issues, str(exc))
        return ("unlocated", why, seconds) if why else ("located", str(exc).splitlines()[-1][:120], seconds)
    except BaseException as exc:  # anything else would reach the user as a traceback or a bare message
        return "traceback", f"{type(exc).__name__}: {exc}"[:300], time.perf_counter() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    pipeline.close()
    return "accepted", "build() accepted a malformed spec", time.perf_counter() - start


def run_cli(case: Case, folder: Path) -> tuple[str, str, float]:
    """The same, through ``python -m embedspec validate FILE`` in a subprocess."""
    target = materialize(case, folder)
    env = {**os.environ, **case.env, "EMBEDSPEC_PROGRESS": "0"}
    start = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-m", "embedspec", "validate", str(target)], capture_output=True,
                             text=True, errors="replace", timeout=CLI_LIMIT_S, env=env)
    except subprocess.TimeoutExpired:
        return "hang", f"still running after {CLI_LIMIT_S} s", time.perf_counter() - start
    seconds = time.perf_counter() - start
    text = out.stdout + out.stderr
    if "Traceback" in text:
        return "traceback", text[-300:], seconds
    if out.returncode == 0:
        return "accepted", text[-200:], seconds
    if out.returncode != 1:
        return "unlocated", f"exit code {out.returncode}: {text[-200:]}", seconds
    if case.line not in (None, -1) and f"line {case.line}" not in out.stderr:
        return "unlocated", f"no 'line {case.line}' in: {out.stderr[-300:]}", seconds
    if case.line == -1 and "line " not in out.stderr:
        return "unlocated", f"no line in: {out.stderr[-300:]}", seconds
    return "located", out.stderr.strip().splitlines()[-1][:120] if out.stderr.strip() else "", seconds


CASES = generate_cases()
# a spread subset for the CLI: every category, then evenly over the rest (a directory is a usage error there)
_CLI_POOL = [c for c in CASES if c.mapping is None and c.make not in ("dir", "fifo")]
_FIRST = list({c.category: c for c in reversed(_CLI_POOL)}.values())
CLI_SUBSET = _FIRST + [c for c in _CLI_POOL[:: max(1, len(_CLI_POOL) // (CLI_CASES - len(_FIRST)))]
                       if c not in _FIRST][: CLI_CASES - len(_FIRST)]
OUTCOMES = ("located", "unlocated", "traceback", "hang", "accepted")


def _summary(results: list[tuple[Case, str, str, float]], title: str) -> dict[str, Any]:
    counts = Counter(outcome for _, outcome, _, _ in results)
    slowest = max(results, key=lambda r: r[3])
    summary = {"tried": len(results), **{k: counts.get(k, 0) for k in OUTCOMES},
               "slowest_s": round(slowest[3], 3), "slowest_case": slowest[0].name,
               "by_category": dict(Counter(c.category for c, *_ in results))}
    print(f"\n{title}: tried {summary['tried']} | located error {summary['located']} | unlocated "
          f"{summary['unlocated']} | traceback {summary['traceback']} | hang {summary['hang']} | wrongly accepted "
          f"{summary['accepted']} | slowest {summary['slowest_s']} s ({summary['slowest_case']})")
    return summary


def _record(key: str, summary: dict[str, Any]) -> None:
    target = os.environ.get("EMBEDSPEC_FUZZ_SUMMARY")
    if target:
        path = Path(target)
        data = json.loads(path.read_text()) if path.exists() else {}
        data[key] = summary
        path.write_text(json.dumps(data, indent=2))


def test_enough_generated_cases_of_every_kind():
    assert len(CASES) >= 300
    categories = Counter(c.category for c in CASES)
    for needed in ("alias-bomb", "deep", "bytes", "duplicate-key", "root", "file-name", "version", "type"):
        assert categories[needed] >= 4, (needed, categories)
    assert len(CLI_SUBSET) == CLI_CASES


@pytest.mark.parametrize("base", sorted(BASES))
def test_the_bases_are_valid(base):
    build(BASES[base]).close()
    build(_dump(BASES[base])).close()


def test_every_malformed_spec_is_refused_in_process(tmp_path):
    results = []
    for i, case in enumerate(CASES):
        outcome, detail, seconds = run_in_process(case, tmp_path / f"c{i}")
        results.append((case, outcome, detail, seconds))
    summary = _summary(results, "in-process fuzz (build)")
    _record("in_process", summary)
    failures = [f"{c.name} [{c.category}]: {o}: {d}" for c, o, d, _ in results if o != "located"]
    assert not failures, f"{len(failures)} of {len(results)} cases failed:\n" + "\n".join(failures[:200])
    bombs = [s for c, _, _, s in results if c.category in ("alias-bomb", "deep")]
    assert max(bombs) < 1.0, max(bombs)


def test_malformed_specs_through_the_cli(tmp_path):
    def one(item: tuple[int, Case]) -> tuple[Case, str, str, float]:
        i, case = item
        return (case, *run_cli(case, tmp_path / f"c{i}"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, enumerate(CLI_SUBSET)))
    summary = _summary(results, f"CLI fuzz ({sys.executable} -m embedspec validate)")
    _record("cli", summary)
    failures = [f"{c.name} [{c.category}]: {o}: {d}" for c, o, d, _ in results if o != "located"]
    assert not failures, f"{len(failures)} of {len(results)} cases failed:\n" + "\n".join(failures)
