"""The ``serve:`` block, settings precedence, the CLI command, and that nothing heavy is imported early."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from embedspec.errors import SpecError
from embedspec.serve.config import ServeSettings, resolve_settings, split_spec
from serving import hashing_spec, httpx, serve_app

HEAVY = ("starlette", "uvicorn", "prometheus_client", "fastapi", "httpx", "openai")


def spec_file(tmp_path: Path, serve: object = None, name: str = "spec.yaml") -> Path:
    data = hashing_spec(tmp_path / "index")
    if serve is not None:
        data["serve"] = serve
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_serve_block_is_split_from_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_READ_KEY", "r-secret")
    path = spec_file(tmp_path, {"api_key": "${MY_READ_KEY}", "max_batch_items": 7, "cors_origins": ["https://a.b"]})
    spec, fields = split_spec(str(path))
    assert fields == {"api_key": "r-secret", "max_batch_items": 7, "cors_origins": ["https://a.b"]}
    assert spec.source == str(path) and spec.encoder.type == "hashing"
    settings = resolve_settings(fields, {"max_batch_items": 9, "max_wait_ms": None})
    assert settings.max_batch_items == 9 and settings.max_wait_ms == 2.0
    assert settings.api_key is not None and settings.api_key.reveal() == "r-secret"
    assert "r-secret" not in repr(settings) and "r-secret" not in str(settings.model_dump())


def test_keys_in_clear_are_refused(tmp_path: Path) -> None:
    path = spec_file(tmp_path, {"write_key": "hunter2"})
    with pytest.raises(SpecError) as info:
        split_spec(str(path))
    assert str(info.value) == (f"{path}: serve.write_key: write the key as a ${{VAR}} reference to an "
                               "environment variable, never in clear in the spec")
    assert "hunter2" not in str(info.value)


def test_unset_key_variable_and_bad_fields_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(SpecError, match=r"serve.api_key: environment variable NOT_SET_ANYWHERE is not set"):
        split_spec(str(spec_file(tmp_path, {"api_key": "${NOT_SET_ANYWHERE}"})))
    with pytest.raises(SpecError) as info:
        split_spec(str(spec_file(tmp_path, {"max_batch_item": 3, "max_wait_ms": -1})))
    message = str(info.value)
    assert "serve.max_batch_item: Extra inputs are not permitted (got 3)" in message
    assert "serve.max_wait_ms: Input should be greater than or equal to 0 (got -1)" in message
    with pytest.raises(SpecError, match="serve: must be a mapping of server settings, got list"):
        split_spec(str(spec_file(tmp_path, ["x"])))


def test_spec_errors_keep_their_lines_when_a_serve_block_is_present(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nserve:\n  max_batch_items: 4\nencoder:\n  type: hashing\n  dimm: 3\n"
                    "index:\n  type: exact\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        split_spec(str(path))
    assert "line 6: encoder.dimm" in str(info.value) and "unknown field for hashing" in str(info.value)


def test_environment_keys_and_empty_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDSPEC_API_KEY", "from-env")
    monkeypatch.setenv("EMBEDSPEC_WRITE_KEY", "")
    settings = resolve_settings({})
    assert settings.api_key is not None and settings.api_key.reveal() == "from-env"
    assert settings.write_key is None  # an empty variable means no key, never "the empty key opens"
    assert ServeSettings().max_request_items == 2048


def test_create_app_reads_the_serve_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEC_TEST_KEY", "k-1")
    monkeypatch.delenv("EMBEDSPEC_API_KEY", raising=False)
    path = spec_file(tmp_path, {"api_key": "${SPEC_TEST_KEY}", "model_name": "my-model"})
    with serve_app(str(path)) as url:
        assert httpx.get(f"{url}/v1/models").status_code == 401
        models = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer k-1"}).json()
        assert models["data"][0]["id"] == "my-model"


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from embedspec.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_cli_help_and_user_errors(tmp_path: Path) -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for option in ("--host", "--port", "--workers", "--read-only", "--max-batch-items", "--cors-origin"):
        assert option in result.stdout
    result = run_cli("serve", str(spec_file(tmp_path, {"api_key": "clear"})), "--port", "0")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "serve.api_key: write the key as a ${VAR} reference" in result.stderr
    result = run_cli("serve", str(spec_file(tmp_path, name="ok.yaml")), "--workers", "2", "--port", "0")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--workers 2 would give the index" in result.stderr and "add --read-only" in result.stderr


def test_importing_embedspec_and_other_commands_do_not_import_the_server() -> None:
    code = ("import sys, embedspec, embedspec.serve, embedspec.cli\n"
            "from embedspec.cli import get_cli\n"
            "from click.testing import CliRunner\n"
            "CliRunner().invoke(get_cli(), ['plugins'])\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
