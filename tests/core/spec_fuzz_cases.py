"""Malformed specs for the spec fuzz (tests/core/test_spec_fuzz.py): valid bases, then every way to
break them — YAML, structure, field values, files — each case with what the error must name."""

from __future__ import annotations

import copy
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

import yaml
from embedspec.config_rules import _options
from embedspec.plugins import get_registry

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
def dump_spec(spec: dict[str, Any]) -> str:
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
                    text = dump_spec(spec)
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
                text = dump_spec(spec)
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
                text = dump_spec(spec)
                cases.append(Case(f"{base_name}:{_dotted(where)}.type={bad_type!r}#{j}", "type", text.encode(),
                                  path=_dotted([*where, "type"]), line=_line_of(text, [*where, "type"])))
    return cases


def _structure_cases() -> list[Case]:
    base = BASES["chain"]
    cases = []
    for j, version in enumerate([True, False, 1.0, "1", 2, 0, -1, None, [1], {"v": 1}, 1.5, float("inf"),
                                 float("nan"), "one", 10**40]):
        spec = {**base, "version": version}
        text = dump_spec(spec)
        cases.append(Case(f"version={version!r}#{j}", "version", text.encode(), path="version",
                          line=_line_of(text, ["version"])))
    text = dump_spec({k: v for k, v in base.items() if k != "version"})
    cases.append(Case("version-missing", "version", text.encode(), path="version", line=1))
    for block in ("encoder", "index"):
        text = dump_spec({k: v for k, v in base.items() if k != block})
        cases.append(Case(f"{block}-missing", "structure", text.encode(), path=block, line=None))
        for j, bad in enumerate([[1], "hashing", 5, None, True, []]):
            text = dump_spec({**base, block: bad})
            cases.append(Case(f"{block}={bad!r}#{j}", "structure", text.encode(), path=block,
                              line=_line_of(text, [block])))
    for j, bad in enumerate([{"type": "binary"}, "binary", 5, [5], [None], [[]], True]):
        text = dump_spec({**base, "compressors": bad})
        path = "compressors" if not isinstance(bad, list) else "compressors[0]"
        cases.append(Case(f"compressors={bad!r}#{j}", "structure", text.encode(), path=path,
                          line=_line_of(text, ["compressors"] if not isinstance(bad, list) else ["compressors", 0])))
    for key in ("indx", "encoders", "Version", "comressors", "extra"):
        text = dump_spec({**base, key: 1})
        cases.append(Case(f"top-level {key}", "structure", text.encode(), path=key, line=_line_of(text, [key])))
    good = dump_spec(base)
    for j, extra in enumerate(["1: x\n", "null: x\n", "[a]: b\n", "? {a: 1}\n: b\n", "true: 1\n"]):
        text = good + extra
        cases.append(Case(f"odd top-level key #{j}", "structure", text.encode(), line=good.count("\n") + 1))
    return cases


def _duplicate_cases() -> list[Case]:
    cases = []
    for base_name, base in BASES.items():
        text = dump_spec(base)
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
    good = dump_spec(BASES["chain"])
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
    good = dump_spec(BASES["chain"])
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
    good = dump_spec(BASES["chain"]).encode()
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
            text = dump_spec(spec)
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
