"""The spec: YAML parsing, env interpolation, two-phase validation with located errors."""

from __future__ import annotations

import textwrap

import pytest
from embedspec.errors import SpecError
from embedspec.spec import load_spec

GOOD = """\
version: 1
encoder:
  type: hashing
  dim: 256
compressors:
  - type: matryoshka
    dim: 128
index:
  type: exact
  metric: cosine
"""


def test_valid_spec_parses_into_blocks():
    spec = load_spec(GOOD)
    assert spec.encoder.type == "hashing"
    assert spec.encoder.config.dim == 256
    assert [b.type for b in spec.compressors] == ["matryoshka"]
    assert spec.index.registration.plugin == "embedspec.builtin"


def test_yaml_syntax_error_names_line_and_column():
    with pytest.raises(SpecError) as exc:
        load_spec("version: 1\nencoder:\n  type: hashing\n  dim: [1, 2\nindex: {type: exact}\n")
    msg = str(exc.value)
    assert "YAML syntax error" in msg
    assert "line 5" in msg and "column" in msg


def test_unknown_type_suggests_closest_names():
    with pytest.raises(SpecError) as exc:
        load_spec(GOOD.replace("type: exact", "type: exakt"))
    (issue,) = exc.value.issues
    assert issue.path == "index.type"
    assert issue.line == 9
    assert "did you mean 'exact'" in issue.message
    assert "embedspec plugins" in issue.message


def test_unknown_and_mistyped_fields_are_located():
    text = GOOD.replace("  dim: 256", "  dim: lots").replace("  metric: cosine", "  metric: cosine\n  pth: /tmp/x")
    with pytest.raises(SpecError) as exc:
        load_spec(text, )
    by_path = {i.path: i for i in exc.value.issues}
    assert set(by_path) == {"encoder.dim", "index.pth"}
    assert by_path["encoder.dim"].line == 4
    assert by_path["encoder.dim"].component == "hashing"
    assert by_path["encoder.dim"].plugin == "embedspec.builtin"
    assert "'lots'" in by_path["encoder.dim"].message
    assert by_path["index.pth"].line == 11
    assert "did you mean 'path'" in by_path["index.pth"].message


def test_three_mistakes_reported_together():
    text = textwrap.dedent("""\
        version: 2
        encoder:
          type: hashing
          dim: -3
        index:
          type: exact
          metric: manhattan
        """)
    with pytest.raises(SpecError) as exc:
        load_spec(text)
    paths = sorted(i.path for i in exc.value.issues)
    assert paths == ["encoder.dim", "index.metric", "version"]
    assert [i.line for i in sorted(exc.value.issues, key=lambda i: i.path)] == [4, 7, 1]
    assert "3 problems" in str(exc.value)


def test_structure_errors():
    with pytest.raises(SpecError) as exc:
        load_spec({"version": 1, "encoder": {"dim": 3}, "indx": {"type": "exact"}})
    messages = {i.path: i.message for i in exc.value.issues}
    assert "missing the encoder 'type'" in messages["encoder.type"]
    assert "did you mean 'index'" in messages["indx"]
    assert "needs an 'index' block" in messages["index"]


def test_env_interpolation(monkeypatch):
    monkeypatch.setenv("EMBEDSPEC_TEST_DIM", "64")
    spec = load_spec(GOOD.replace("dim: 256", "dim: ${EMBEDSPEC_TEST_DIM}").replace("dim: 128", "dim: ${UNSET_VAR_X:-32}"))
    assert spec.encoder.config.dim == 64
    assert spec.compressors[0].config.dim == 32


def test_missing_env_variable_is_located(monkeypatch):
    monkeypatch.delenv("EMBEDSPEC_NOPE", raising=False)
    with pytest.raises(SpecError) as exc:
        load_spec(GOOD.replace("metric: cosine", "metric: cosine\n  path: ${EMBEDSPEC_NOPE}"))
    (issue,) = exc.value.issues
    assert issue.path == "index.path" and issue.line == 11
    assert "EMBEDSPEC_NOPE is not set" in issue.message


def test_safe_load_refuses_python_tags():
    with pytest.raises(SpecError) as exc:
        load_spec("version: 1\nencoder: !!python/object/apply:os.system ['echo hi']\nindex: {type: exact}\n")
    assert "YAML syntax error" in str(exc.value)


def test_spec_file_path(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(GOOD.replace("type: exact", "type: nope"))
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert str(path) in str(exc.value)
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")


def test_fields_of_an_unknown_type_are_checked_against_the_closest_known_type():
    text = "version: 1\nencoder:\n  type: hashin\n  dim: true\n  ngram: 3\nindex:\n  type: exact\n  metric: l1\n"
    with pytest.raises(SpecError) as exc:
        load_spec(text)
    found = [(i.line, i.path) for i in exc.value.issues]
    assert found == [(3, "encoder.type"), (4, "encoder.dim"), (5, "encoder.ngram"), (8, "index.metric")]
    note = "(checked against 'hashing', the closest known type)"
    assert [i.message.endswith(note) for i in exc.value.issues] == [False, True, True, False]


def test_relative_paths_resolve_against_the_spec_file_and_are_written_back_as_given(tmp_path, monkeypatch):
    import embedspec

    folder = tmp_path / "project" / "specs"
    folder.mkdir(parents=True)
    spec_file = folder / "spec.yaml"
    spec_file.write_text("version: 1\nencoder: {type: hashing, dim: 64}\nindex: {type: exact, path: ../indexes/one}\n")
    monkeypatch.chdir(tmp_path)  # somewhere else entirely
    with embedspec.build(str(spec_file)) as pipe:
        assert pipe.index.path == str(tmp_path / "project" / "indexes" / "one")
        pipe.add(["a document"])
        assert pipe.to_spec()["index"]["path"] == "../indexes/one"
    assert (tmp_path / "project" / "indexes" / "one" / "manifest.json").is_file()
    monkeypatch.setenv("EMBEDSPEC_TEST_INDEX", "from-env")  # a ${VAR} value is used as given
    spec_file.write_text("version: 1\nencoder: {type: hashing, dim: 64}\nindex: {type: exact, path: \"${EMBEDSPEC_TEST_INDEX}\"}\n")
    assert load_spec(str(spec_file)).index.config.path == "from-env"
    # a relative path holding a ${VAR} resolves against the spec's folder and is written back with it
    spec_file.write_text("version: 1\nencoder: {type: hashing, dim: 64}\n"
                         "index: {type: exact, path: \"../indexes/idx-${EMBEDSPEC_TEST_INDEX}\"}\n")
    with embedspec.build(str(spec_file)) as pipe:
        assert pipe.index.path == str(tmp_path / "project" / "indexes" / "idx-from-env")
        assert pipe.to_spec()["index"]["path"] == "../indexes/idx-${EMBEDSPEC_TEST_INDEX}"
    text = "version: 1\nencoder: {type: hashing, dim: 64}\nindex: {type: exact, path: rel/idx}\n"
    assert load_spec(text).index.config.path == "rel/idx"  # YAML text or a mapping: the working directory
