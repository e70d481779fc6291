"""Depth truncation (``layers: N``): graphs that stop after layer N of the real all-MiniLM-L6-v2, checked
against sentence-transformers with the encoder cut to its first N layers."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from embedspec.testing import check_encoder
from embedspec_onnx import ModelCard, OnnxTextEncoder
from embedspec_onnx.commands import export_command
from embedspec_onnx.common.card import ModelDirectoryError

pytestmark = pytest.mark.slow

TEXTS = [
    "A man is eating food.", "Vitamin D lowers the risk of fractures.", "", "   ", "x",
    "How do vaccines trigger an immune response?", "Emoji 🚀🔥✨ galore", "机器学习需要大量数据。",
    " ".join(["Long input past the maximum sequence length of the model."] * 40),
]


@pytest.fixture(scope="module")
def depth_dir(minilm_dir: Path, minilm_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the MiniLM directory (hard links) with the 2-layer graph (fp32 + int8) added."""
    from embedspec_onnx.text.depth import add_depths

    out = tmp_path_factory.mktemp("depth") / "minilm"
    shutil.copytree(minilm_dir, out, copy_function=os.link)
    cosines = add_depths(out, minilm_checkpoint, [2], quantize="int8")
    assert list(cosines) == [2] and cosines[2] >= 0.9999
    return out


def test_card_names_the_depth_graphs_and_the_original_is_untouched(depth_dir: Path, minilm_dir: Path) -> None:
    card = ModelCard.read(depth_dir)
    assert card.files == {"model": "model.onnx", "model_int8": "model_int8.onnx", "tokenizer": "tokenizer.json",
                          "model_layers2": "model_layers2.onnx", "model_layers2_int8": "model_layers2_int8.onnx"}
    assert card.depths() == [2]
    assert card.export.model_dump()["depth_min_cosine"]["2"] >= 0.9999
    assert "model_layers2" not in ModelCard.read(minilm_dir).files  # the card was replaced, not written through
    assert not [p.name for p in depth_dir.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_graph_runs_two_layers(depth_dir: Path) -> None:
    onnx = pytest.importorskip("onnx", reason="reading the graph needs onnx (the export extra)")
    graph = onnx.load(str(depth_dir / "model_layers2.onnx"), load_external_data=False).graph
    layers = {n.name.split("/")[2] for n in graph.node if n.name.startswith("/encoder/layer.")}
    assert layers == {"layer.0", "layer.1"}


def test_matches_sentence_transformers_cut_to_two_layers(depth_dir: Path, minilm_checkpoint: Path) -> None:
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers is the reference here: pip install sentence-transformers")
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_checkpoint), device="cpu")
    bert = reference[0].auto_model
    full = reference.encode(TEXTS, normalize_embeddings=True)
    bert.encoder.layer = bert.encoder.layer[:2]
    cut = reference.encode(TEXTS, normalize_embeddings=True)
    ours = OnnxTextEncoder(model=str(depth_dir), device="cpu", layers=2).encode(TEXTS)
    cosine = (ours * cut).sum(axis=1)
    assert cosine.min() >= 0.9999, cosine
    assert np.abs(ours - cut).max() < 1e-4
    assert (ours * full).sum(axis=1).mean() < 0.95  # two layers are not six: the truncation is real
    int8 = OnnxTextEncoder(model=str(depth_dir), device="cpu", layers=2, precision="int8").encode(TEXTS)
    assert (int8 * cut).sum(axis=1).mean() >= 0.98


def test_conformance_and_spec_round_trip(depth_dir: Path, fresh_plugins: None) -> None:
    encoder = OnnxTextEncoder(model=str(depth_dir), device="cpu", layers=2)
    assert check_encoder(encoder, TEXTS[:3]).shape == (3, 384)
    assert encoder.get_params()["layers"] == 2


def test_missing_depth_is_a_located_error(depth_dir: Path, minilm_dir: Path) -> None:
    with pytest.raises(ModelDirectoryError) as err:
        OnnxTextEncoder(model=str(depth_dir), device="cpu", layers=4).check()
    assert err.value.field == "layers"
    assert str(err.value).startswith(
        f"model directory {depth_dir} has no 4-layer fp32 graph (its depths: [2]); add one with "
        f"`embedspec export SRC {depth_dir} --layers 4 --add`")
    with pytest.raises(ModelDirectoryError, match=r"has no 2-layer fp32 graph \(it has no truncated graphs\)"):
        OnnxTextEncoder(model=str(minilm_dir), device="cpu", layers=2).check()


@pytest.mark.parametrize(("layers", "message"), [
    ([6], "layers must be in 1..5 (sentence-transformers/all-MiniLM-L6-v2 has 6 layers), not [6]"),
    ([0, 3], "layers must be in 1..5 (sentence-transformers/all-MiniLM-L6-v2 has 6 layers), not [0]"),
    ([], "layers must be in 1..5 (sentence-transformers/all-MiniLM-L6-v2 has 6 layers), not []"),
])
def test_out_of_range_depth_writes_nothing(depth_dir: Path, minilm_checkpoint: Path, layers: list[int],
                                           message: str) -> None:
    from embedspec_onnx.text.depth import add_depths

    before = sorted(p.name for p in depth_dir.iterdir())
    with pytest.raises(ValueError) as err:
        add_depths(depth_dir, minilm_checkpoint, layers)
    assert str(err.value) == message
    assert sorted(p.name for p in depth_dir.iterdir()) == before


@pytest.mark.parametrize(("args", "message"), [
    (["--add"], "--add needs --layers"),
    (["--layers", "two"], "Invalid value for --layers: a comma-separated list of layer counts, e.g. 2,3,4; "
                          "not 'two'"),
    (["--layers", ","], "Invalid value for --layers: give at least one layer count, e.g. 3"),
])
def test_export_layers_option_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(export_command, ["src", str(tmp_path / "out"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "out").exists()
