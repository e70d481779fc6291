"""The embedspec command: plugins, validate, schema, index, search."""

from __future__ import annotations

import json

from click.testing import CliRunner
from embedspec.cli import get_cli

SPEC = """\
version: 1
encoder:
  type: hashing
  dim: 256
index:
  type: exact
  path: {path}
"""


def run(*args):
    result = CliRunner().invoke(get_cli(), list(args), catch_exceptions=False)
    return result


def test_plugins_json_lists_builtins_with_distribution():
    result = run("plugins", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)["components"]
    exact = next(r for r in rows if r["name"] == "exact")
    assert exact == {**exact, "kind": "index", "plugin": "embedspec.builtin", "distribution": "embedspec"}


def test_validate_reports_every_problem_with_lines(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nencoder:\n  type: hashin\nindex:\n  type: exact\n  metric: l1\n  extra: 1\n")
    result = run("validate", str(bad))
    assert result.exit_code == 1
    assert "3 problems" in result.output
    for fragment in ("line 3: encoder.type", "line 6: index.metric", "line 7: index.extra"):
        assert fragment in result.output


def test_validate_ok(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(SPEC.format(path=tmp_path / "idx"))
    result = run("validate", str(good))
    assert result.exit_code == 0 and "valid (256 -> 256 dims" in result.output


def test_schema_is_json_schema_of_installed_components():
    schema = json.loads(run("schema").output)
    encoders = {s["properties"]["type"]["const"] for s in schema["properties"]["encoder"]["oneOf"]}
    assert "hashing" in encoders
    assert schema["required"] == ["version", "index"]
    assert schema["oneOf"] == [{"required": ["encoder"]}, {"required": ["encoders", "fusion"]}]
    assert schema["properties"]["encoders"]["additionalProperties"] == schema["properties"]["encoder"]
    assert set(schema["properties"]["fusion"]["properties"]) == {"method", "k", "limit", "weights", "normalization"}


def test_index_then_search(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(path=tmp_path / "idx"))
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        "\n".join(json.dumps({"id": f"d{i}", "text": t, "lang": "en"}) for i, t in enumerate(
            ["cats purr and sleep", "rockets fly to orbit", "bread needs flour and yeast"]))
    )
    result = run("index", str(spec), "--input", str(docs), "--no-progress")
    assert result.exit_code == 0 and "indexed 3 documents" in result.output
    result = run("search", str(spec), "flour for bread", "-k", "2", "--json")
    hits = json.loads(result.output)[0]
    assert hits[0]["id"] == "d2" and hits[0]["payload"]["lang"] == "en"


def test_index_bad_jsonl_names_line(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(path=tmp_path / "idx"))
    docs = tmp_path / "docs.jsonl"
    docs.write_text('{"text": "ok"}\n{"text": broken}\n')
    result = CliRunner().invoke(get_cli(), ["index", str(spec), "--input", str(docs)])
    assert result.exit_code != 0 and f"{docs}:2: invalid JSON" in result.output
