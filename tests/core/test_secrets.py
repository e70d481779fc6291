"""Secrets: a real qdrant pipeline with ``api_key: ${VAR}`` (and a literal key); the key never appears in any
output (describe, repr, to_yaml, error messages, CLI stdout/stderr, log records, warnings) or written file,
and the ``${VAR}`` reference is written back even after the variable is unset or rotated."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest
import yaml
from embedspec.errors import SpecError
from embedspec.pipeline import build
from embedspec.plugins import describe
from embedspec.secrets import MASK, Secret, SecretWarning
from embedspec.spec import load_spec

pytest.importorskip("qdrant_client", reason="the qdrant index needs qdrant-client (pip install 'embedspec-qdrant[client]')")

VAR = "EMBEDSPEC_TEST_KEY"

SPEC = f"""\
version: 1
encoder:
  type: hashing
  dim: 64
index:
  type: qdrant
  location: ":memory:"
  collection: docs
  api_key: ${{{VAR}}}
"""


@pytest.fixture
def key(monkeypatch) -> str:
    value = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv(VAR, value)
    return value


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def files_holding(folder: Path, value: str) -> list[Path]:
    """Every file under ``folder`` whose bytes contain ``value``."""
    return [p for p in folder.rglob("*") if p.is_file() and value.encode() in p.read_bytes()]


def run_cli(*args: str, env_value: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != VAR}
    if env_value is not None:
        env[VAR] = env_value
    env["EMBEDSPEC_PROGRESS"] = "0"
    return subprocess.run([sys.executable, "-m", "embedspec", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


# ---- the type ---------------------------------------------------------------------------------
def test_secret_shows_only_its_reference_or_the_mask(monkeypatch):
    monkeypatch.setenv(VAR, "v4lue-of-the-key")
    from_env = Secret.from_env(VAR)
    literal = Secret("v4lue-of-the-key")
    assert from_env.reveal() == literal.reveal() == "v4lue-of-the-key"
    assert (repr(from_env), str(from_env), f"{from_env}") == (f"Secret(${{{VAR}}})", f"${{{VAR}}}", f"${{{VAR}}}")
    assert (repr(literal), str(literal), f"{literal:>12}") == (f"Secret({MASK})", MASK, f"  {MASK}")
    assert from_env.to_spec() == f"${{{VAR}}}"
    with pytest.warns(SecretWarning, match="written back as"):
        assert literal.to_spec() == MASK
    assert from_env != literal and literal == Secret("v4lue-of-the-key")
    with pytest.raises(TypeError, match="never pickled"):  # what any serializer of Python objects calls
        from_env.__reduce_ex__(2)
    monkeypatch.delenv(VAR)
    with pytest.raises(SpecError, match=f"{VAR} is not set"):
        Secret.from_env(VAR)


def test_secret_field_in_a_config_model():
    from embedspec_qdrant.config import QdrantIndexConfig

    config = QdrantIndexConfig(location=":memory:", api_key="s3cret-literal")
    assert isinstance(config.api_key, Secret) and config.api_key.reveal() == "s3cret-literal"
    assert "s3cret-literal" not in repr(config) and "s3cret-literal" not in str(config)
    schema = QdrantIndexConfig.model_json_schema()["properties"]["api_key"]
    assert {"type": "string", "format": "password", "writeOnly": True} in schema["anyOf"]
    with pytest.raises(ValueError, match="a secret is a string") as exc:
        QdrantIndexConfig(location=":memory:", api_key=12345)
    assert "12345" not in str(exc.value)
    with pytest.raises(ValueError, match="given literally"):  # a masked spec does not authenticate with the mask
        QdrantIndexConfig(location=":memory:", api_key=MASK)


def test_describe_masks_a_literal_key_and_the_client_gets_the_value(monkeypatch):
    import qdrant_client
    from embedspec_qdrant.client import QdrantIndex

    index = QdrantIndex(url="http://qdrant.invalid:6333", api_key="s3cret-literal")
    with pytest.warns(SecretWarning):
        block = describe(index)
    assert block == {"type": "qdrant", "url": "http://qdrant.invalid:6333", "api_key": MASK}
    assert "s3cret-literal" not in repr(index) + repr(vars(index))

    seen = {}

    class Recorder:
        def __init__(self, **kwargs):
            seen.update(kwargs)
            raise ConnectionAbortedError("stop here")

    monkeypatch.setattr(qdrant_client, "QdrantClient", Recorder)
    with pytest.raises(ConnectionAbortedError):
        index.warm_up()
    assert seen["api_key"] == "s3cret-literal"  # revealed only for the client


# ---- a real run ---------------------------------------------------------------------------------
def test_a_run_with_a_key_from_the_environment_never_shows_it(key, spec_file, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with build(spec_file) as pipe:
            assert pipe.index.api_key.reveal() == key
            ids = pipe.add(["a red apple", "a blue sky", "green grass"], ids=[1, 2, 3])
            hits = pipe.search(["red fruit"], k=2)
            assert ids == [1, 2, 3] and hits[0][0].id == 1
            outputs += [describe(pipe.index), repr(pipe.index), repr(vars(pipe.index)), repr(pipe.spec),
                        str(pipe.spec.index.config), repr(pipe.spec.index.config.model_dump()), pipe.to_yaml(),
                        str(pipe.to_spec()), str(hits)]
            written = tmp_path / "written.yaml"
            written.write_text(pipe.to_yaml())
            assert yaml.safe_load(pipe.to_yaml())["index"]["api_key"] == f"${{{VAR}}}"
    outputs += [str(w.message) for w in caught]
    outputs += [r.getMessage() + repr(r.args) for r in caplog.records]
    assert not [o for o in map(str, outputs) if key in o]
    assert files_holding(tmp_path, key) == []
    again = build(written)  # the written spec rebuilds, reading the key from the environment again
    assert again.index.api_key.reveal() == key
    again.close()


@pytest.mark.parametrize("change", ["unset", "rotated"])
def test_to_yaml_keeps_the_reference_remembered_at_build(key, spec_file, monkeypatch, change):
    pipe = build(spec_file)
    if change == "unset":
        monkeypatch.delenv(VAR)
    else:
        monkeypatch.setenv(VAR, "rotated-" + key)
    text = pipe.to_yaml()
    assert yaml.safe_load(text)["index"]["api_key"] == f"${{{VAR}}}"
    assert key not in text
    pipe.close()


def test_plain_fields_from_the_environment_are_written_back_as_references(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDSPEC_TEST_DIM", "48")
    monkeypatch.setenv("EMBEDSPEC_TEST_COLLECTION", "papers")
    spec = SPEC.replace("dim: 64", "dim: ${EMBEDSPEC_TEST_DIM}").replace(
        "collection: docs", "collection: ${EMBEDSPEC_TEST_COLLECTION}\n  prefer_grpc: ${EMBEDSPEC_TEST_GRPC:-false}"
    ).replace(f"api_key: ${{{VAR}}}\n", "")
    pipe = build(spec)
    monkeypatch.setenv("EMBEDSPEC_TEST_DIM", "96")
    monkeypatch.delenv("EMBEDSPEC_TEST_COLLECTION")
    out = pipe.to_spec()
    assert out["encoder"] == {"type": "hashing", "dim": "${EMBEDSPEC_TEST_DIM}"}
    assert out["index"]["collection"] == "${EMBEDSPEC_TEST_COLLECTION}"
    assert out["index"]["prefer_grpc"] == "${EMBEDSPEC_TEST_GRPC:-false}"  # restored though it is the default
    pipe.index.collection = "changed"  # a value changed after build is written as it is now
    assert pipe.to_spec()["index"]["collection"] == "changed"
    pipe.close()


def test_a_literal_key_is_written_back_masked_with_a_warning(tmp_path, caplog):
    literal = f"literal-{uuid.uuid4().hex}"
    path = tmp_path / "literal.yaml"
    path.write_text(SPEC.replace(f"${{{VAR}}}", literal))
    caplog.set_level(logging.DEBUG)
    with build(path) as pipe:
        assert pipe.index.api_key.reveal() == literal
        with pytest.warns(SecretWarning) as caught:
            text = pipe.to_yaml()
            block = describe(pipe.index)
        outputs = [text, str(block), repr(pipe.spec), repr(pipe.index.api_key), *(str(w.message) for w in caught)]
    assert yaml.safe_load(text)["index"]["api_key"] == MASK
    assert not [o for o in outputs if literal in o]
    assert not [r for r in caplog.records if literal in r.getMessage()]
    (tmp_path / "written.yaml").write_text(text)
    assert files_holding(tmp_path, literal) == [path]  # only the user's own spec file holds it
    with pytest.raises(SpecError, match="given literally"):
        load_spec(tmp_path / "written.yaml")


BROKEN = {
    "prefer_grpc": f"prefer_grpc: ${{{VAR}}}",
    "timeout": f"timeout: ${{{VAR}}}",
    "two targets": f"url: https://${{{VAR}}}.example",
    "dict field": f"payload_indexes: {{lang: \"${{{VAR}}}\"}}",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_validation_errors_never_echo_values_from_the_environment(key, name):
    with pytest.raises(SpecError) as exc:
        load_spec(SPEC.replace("collection: docs", f"collection: docs\n  {BROKEN[name]}"))
    message = str(exc.value)
    assert key not in message and all(key not in i.message for i in exc.value.issues)
    if name != "two targets":
        assert f"(value from ${{{VAR}}})" in message


def test_a_nested_block_error_does_not_echo_the_value(key):
    pytest.importorskip("embedspec_gfun", reason="the nested block check is gfun's (pip install -e plugins/gfun)")
    text = f"version: 1\nencoder:\n  type: gfun\n  embeddings:\n    type: hashing\n    dim: ${{{VAR}}}\nindex: {{type: exact}}\n"
    with pytest.raises(SpecError) as exc:
        load_spec(text)
    assert key not in str(exc.value) and "embeddings" in str(exc.value)


def test_the_cli_never_prints_the_key(key, spec_file, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(SPEC.replace("collection: docs", f"collection: docs\n  timeout: ${{{VAR}}}\n  prefer_grpc: ${{{VAR}}}"))
    runs = {
        "validate": run_cli("validate", str(spec_file), env_value=key, cwd=tmp_path),
        "search": run_cli("search", str(spec_file), "red fruit", env_value=key, cwd=tmp_path),
        "validate broken": run_cli("validate", str(broken), env_value=key, cwd=tmp_path),
        "validate broken --debug": run_cli("--debug", "validate", str(broken), env_value=key, cwd=tmp_path),
        "validate unset": run_cli("validate", str(spec_file), env_value=None, cwd=tmp_path),
    }
    assert runs["validate"].returncode == 0, runs["validate"].stderr
    # an in-memory index has nothing to search from the command line: a clear refusal, still no key
    assert runs["search"].returncode == 1 and "in memory only" in runs["search"].stderr, runs["search"].stderr
    assert runs["validate broken"].returncode == 1 and "(value from ${EMBEDSPEC_TEST_KEY})" in runs["validate broken"].stderr
    assert runs["validate unset"].returncode == 1 and f"{VAR} is not set" in runs["validate unset"].stderr
    leaks = [name for name, r in runs.items() if key in r.stdout or key in r.stderr]
    assert leaks == []
    assert files_holding(tmp_path, key) == []
