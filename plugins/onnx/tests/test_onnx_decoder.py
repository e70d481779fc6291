"""KaLM / Qwen3-style decoders: a tiny random Qwen2 exported and compared to transformers' forward."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedspec_onnx import ModelCard, OnnxTextEncoder

pytestmark = pytest.mark.slow

TEXTS = [
    "the quick brown fox",
    "embedding models map text to vectors for retrieval and the last token or the mean is pooled",
    "a",
    "",
    "dog fox lazy quick the brown jumps over",
    "instruct: given a query, retrieve documents",
]


@pytest.fixture(scope="module")
def qwen_dir(tiny_qwen2: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from embedspec_onnx.text.export import export_model

    out = tmp_path_factory.mktemp("tiny-qwen2-onnx") / "model"
    card = export_model(tiny_qwen2, out, family="kalm", name="tiny-qwen2", tolerance=1e-4)
    assert card.architecture == "decoder" and card.dim == 64 and card.max_length == 64
    assert card.query_prompt.startswith("Instruct: ")
    return out


def transformers_vectors(checkpoint: Path, texts: list[str], pooling: str, side: str) -> np.ndarray:
    """Reference: transformers forward on a padded batch, pooled with torch, L2-normalized."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(checkpoint)
    tok.padding_side = side
    model = AutoModel.from_pretrained(checkpoint).eval()
    enc = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    mask = enc["attention_mask"]
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        hidden = model(input_ids=enc["input_ids"], attention_mask=mask, position_ids=positions).last_hidden_state
    if pooling == "mean":
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    else:
        last = mask.shape[1] - 1 if side == "left" else mask.sum(1) - 1
        pooled = hidden[torch.arange(len(texts)), last]
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@pytest.mark.parametrize("pooling", ["mean", "last-token"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_decoder_matches_transformers(qwen_dir: Path, tiny_qwen2: Path, pooling: str, side: str) -> None:
    enc = OnnxTextEncoder(model=str(qwen_dir), device="cpu", pooling=pooling, padding_side=side, batch_size=len(TEXTS))
    texts = list(TEXTS)  # "" is one token (<eos>): a 1-token row beside longer ones
    got = enc.encode(texts)
    expected = transformers_vectors(tiny_qwen2, texts, pooling, side)
    assert np.abs(got - expected).max() <= 1e-4
    # batching, sorting and padding do not change a row: one at a time gives the same vectors
    one = np.stack([enc.encode([t])[0] for t in texts])
    assert np.abs(one - got).max() <= 1e-4


def test_kalm_query_instruction_and_matryoshka(qwen_dir: Path) -> None:
    card = ModelCard.read(qwen_dir)
    base = OnnxTextEncoder(model=str(qwen_dir), device="cpu", normalize=False)
    q = base.encode(["fox"], role="query")
    assert np.allclose(q, base.encode([card.query_prompt + "fox"], role="document"), atol=1e-6)
    # a card declaring Matryoshka dims allows truncation to them (then normalizes)
    card.replace(matryoshka_dims=(64, 32, 16)).write(qwen_dir)
    try:
        small = OnnxTextEncoder(model=str(qwen_dir), device="cpu", dim=32)
        assert small.dim == 32
        full = base.encode(TEXTS[:3])
        expected = full[:, :32] / np.linalg.norm(full[:, :32], axis=1, keepdims=True)
        assert np.allclose(small.encode(TEXTS[:3]), expected, atol=1e-5)
        with pytest.raises(ValueError, match=r"not one of the Matryoshka dims .*\[64, 32, 16\]"):
            OnnxTextEncoder(model=str(qwen_dir), device="cpu", dim=48).encode(["x"])
    finally:
        card.write(qwen_dir)


def test_empty_string_is_encoded(qwen_dir: Path) -> None:
    out = OnnxTextEncoder(model=str(qwen_dir), device="cpu").encode(["", "x"])
    assert out.shape == (2, 64) and np.isfinite(out).all()


def test_export_refuses_a_graph_that_differs(tiny_qwen2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from embedspec_onnx.text import export as export_module
    from embedspec_onnx.text.export import ExportVerificationError, export_model

    real = export_module.reference_vectors

    def shifted(*args, **kwargs):  # the "source model" now disagrees by 0.01
        return real(*args, **kwargs) + np.float32(0.01)

    monkeypatch.setattr(export_module, "reference_vectors", shifted)
    out = tmp_path / "refused"
    with pytest.raises(ExportVerificationError, match=r"max abs difference 0\.01\d* > tolerance 0\.0001") as info:
        export_model(tiny_qwen2, out, family="kalm")
    assert 0.0099 < info.value.max_abs_diff < 0.0101
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_export_and_models(tiny_qwen2: Path, tmp_path: Path) -> None:
    import click
    from click.testing import CliRunner
    from embedspec_onnx import plugin

    @click.group()
    def cli() -> None:
        pass

    plugin.register_commands(cli)
    runner = CliRunner()
    out = tmp_path / "qwen3-style"
    result = runner.invoke(cli, ["export", str(tiny_qwen2), str(out), "--family", "qwen3", "--name", "tiny"])
    assert result.exit_code == 0, result.output
    assert "verified against the source model: max abs difference" in result.output
    card = ModelCard.read(out)
    assert (card.family, card.pooling, card.padding_side) == ("qwen3", "last-token", "left")
    again = runner.invoke(cli, ["export", str(tiny_qwen2), str(out)])
    assert again.exit_code != 0 and "exists and is not empty" in again.output


def test_an_export_prints_what_it_did_and_not_the_frameworks_chatter(tiny_qwen2: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "quiet"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "embedspec"), "export", str(tiny_qwen2), str(out), "--family", "qwen3", "--name", "tiny"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert lines[0].startswith("exported tiny (qwen3") and lines[-1].startswith("verified against the source model")
    assert len(lines) == 2, lines  # no TracerWarning, DeprecationWarning, torch_dtype or accelerate notices


def test_fp16_and_int8_graphs(tiny_qwen2: Path, tmp_path: Path) -> None:
    from embedspec_onnx.common.quantization import INT8_METHODS, ffn_down_projections
    from embedspec_onnx.text.export import export_model

    out = tmp_path / "all-precisions"
    card = export_model(tiny_qwen2, out, family="kalm", fp16=True, quantize="int8",
                        int8_method="dynamic-ffn-fp32", int8_min_mean_cosine=0.9)
    assert set(card.files) == {"model", "model_int8", "model_fp16", "tokenizer"}
    assert card.export.int8_method == INT8_METHODS["dynamic-ffn-fp32"]
    assert ffn_down_projections(out / "model.onnx") == ["/layers.0/mlp/down_proj/MatMul", "/layers.1/mlp/down_proj/MatMul"]
    fp32 = OnnxTextEncoder(model=str(out), device="cpu").encode(TEXTS)
    for precision, floor in (("fp16", 0.999), ("int8", 0.9)):
        other = OnnxTextEncoder(model=str(out), device="cpu", precision=precision).encode(TEXTS)
        assert other.dtype == np.float32
        assert (fp32 * other).sum(axis=1).min() >= floor, precision
