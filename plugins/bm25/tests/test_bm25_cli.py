"""The command line with a BM25 spec and a hybrid spec: validate, index, search."""

from __future__ import annotations

import json

from click.testing import CliRunner
from embedspec.cli import get_cli

BM25 = "version: 1\nencoder:\n  type: bm25\n  avgdl: 4.0\nindex:\n  type: exact\n  path: {path}\n"
HYBRID = """version: 1
encoders:
  dense: {{type: hashing, dim: 32}}
  sparse: {{type: bm25, avgdl: 4.0}}
index: {{type: exact, path: {path}}}
fusion: {{method: rrf, k: 60}}
"""


def run(*args):
    return CliRunner().invoke(get_cli(), list(args), catch_exceptions=False)


def test_validate_index_search(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in
                              [("a", "the brown fox"), ("b", "lazy dogs sleep"), ("c", "foxes and dogs")]))
    for name, template, outline in (
        ("bm25", BM25, "sparse vectors (a space of 4,294,967,296)"),
        ("hybrid", HYBRID, "dense: 32 dims, sparse: sparse vectors (a space of 4,294,967,296)"),
    ):
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(template.format(path=tmp_path / f"{name}-index"))
        result = run("validate", str(spec))
        assert result.exit_code == 0 and f"valid ({outline}; index ExactIndex" in result.output, result.output
        result = run("index", str(spec), "--input", str(docs), "--no-progress")
        assert result.exit_code == 0 and "indexed 3 documents" in result.output, result.output
        result = run("search", str(spec), "fox", "-k", "2", "--json")
        hits = json.loads(result.output)[0]
        assert result.exit_code == 0 and hits[0]["id"] in ("a", "c") and len(hits) == 2


def test_an_unknown_language_is_one_located_line(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(BM25.format(path=tmp_path / "idx").replace("  avgdl: 4.0\n", "  avgdl: 4.0\n  language: xx\n"))
    result = run("validate", str(spec))
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "encoder.language" in result.output and "line 5" in result.output and "unknown language 'xx'" in result.output
