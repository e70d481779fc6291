"""Depth truncation (the layer axis of 2D Matryoshka embeddings): graphs that stop after layer N.

    from embedspec_onnx.text.depth import add_depths
    add_depths("models/all-MiniLM-L6-v2", checkpoint, [2, 3, 4], quantize="int8")
    # spec: encoder: {type: onnx-text, model: models/all-MiniLM-L6-v2, layers: 3}

Each depth N is exported from the source checkpoint loaded with its first N layers only (optimum's
exporter, as the full model), so its graph runs N layers and outputs that layer's token states; the
card's pooling and normalization then apply to them. Every graph is verified against the full
source model's ``hidden_states[N]`` (transformers, ``output_hidden_states=True``) pooled the same
way: the smallest cosine over the sample texts must reach ``min_cosine``. The graphs are named in
the card's ``files`` as ``model_layers{N}`` (and ``model_layers{N}_int8``); they are built and checked
in a staging folder beside the directory, and nothing is added unless every requested depth passed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..common.card import DEPTH_KEY, ExportVerificationError, ModelCard, ModelDirectoryError, depth_key
from ..common.quantization import compare_int8
from ..common.runtime import require
from .reference import SAMPLE_TEXTS, reference_vectors

#: Smallest cosine allowed between a truncated graph's vectors and the source model's at that depth.
DEPTH_MIN_COSINE = 0.9999
#: Smallest mean cosine of a depth's int8 graph to its fp32 graph (as ``export_model``'s int8 check).
INT8_MIN_MEAN_COSINE = 0.98
def source_layers(src: str, trust_remote_code: bool = False) -> int:
    """How many hidden layers the source checkpoint has."""
    transformers = require("transformers")
    config = transformers.AutoConfig.from_pretrained(src, trust_remote_code=trust_remote_code)
    layers = getattr(config, "num_hidden_layers", None)
    if not isinstance(layers, int):
        raise ModelDirectoryError(f"{src}: its config gives no num_hidden_layers; depth truncation needs it")
    return layers


def add_depths(directory: str | Path, src: str | Path, layers: Iterable[int], *, quantize: str | None = None,
               int8_method: str = "dynamic", min_cosine: float = DEPTH_MIN_COSINE,
               sample_texts: list[str] | None = None, trust_remote_code: bool = False) -> dict[int, float]:
    """Add a verified graph per depth in ``layers`` to the model directory ``directory`` exported from
    ``src``; returns {depth: smallest cosine to the source's hidden state at that depth}.

    Raises ``ValueError`` for a depth outside 1..(layers - 1) or a decoder model (its last hidden
    state is normalized by a final norm the truncated graph would apply early), and
    ``ExportVerificationError`` (nothing written) when a graph falls below ``min_cosine``.
    """
    directory, src_str = Path(directory), str(src)
    card = ModelCard.read(directory)
    if card.architecture != "encoder":
        raise ValueError(f"depth truncation is for encoder models; {card.name} is a {card.architecture}")
    total = source_layers(src_str, trust_remote_code)
    depths = sorted(set(layers))
    bad = [n for n in depths if not 0 < n < total]
    if bad or not depths:
        raise ValueError(f"layers must be in 1..{total - 1} ({card.name} has {total} layers), not {bad or depths}")
    texts = sample_texts or SAMPLE_TEXTS
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.depths-", dir=directory.parent))
    files, info = dict(card.files), card.export.model_dump()
    try:
        cosines: dict[int, float] = {}
        for n in depths:
            graph = staging / f"model_layers{n}.onnx"
            _export_truncated(src_str, n, graph, staging / f"work{n}", trust_remote_code)
            files[depth_key("model", n)] = graph.name
            if quantize == "int8":
                from ..common.quantization import quantize_int8

                quantize_int8(graph, staging / f"model_layers{n}_int8.onnx", int8_method)
                files[depth_key("model_int8", n)] = f"model_layers{n}_int8.onnx"
        for key in ("model", "tokenizer"):  # the staging folder becomes a model directory of its own
            _link(card.file(directory, key), staging / card.files[key])
        card.replace(files={k: v for k, v in files.items() if k in ("model", "tokenizer") or DEPTH_KEY.match(k)}
                     ).write(staging)
        for n in depths:
            cosines[n] = _verify(staging, card, n, src_str, texts, min_cosine, trust_remote_code)
        for key, name in files.items():
            if DEPTH_KEY.match(key):
                shutil.move(staging / name, directory / name)
        info["depth_min_cosine"] = {**(info.get("depth_min_cosine") or {}),
                                    **{str(n): round(c, 6) for n, c in cosines.items()}}
        card.replace(files=files, export=info).write(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cosines


def _export_truncated(src: str, layers: int, out: Path, work: Path, trust_remote_code: bool) -> None:
    """``out``: the ONNX graph of ``src`` with only its first ``layers`` layers."""
    transformers = require("transformers")
    exporters = require("optimum.exporters.onnx")
    transformers.logging.set_verbosity_error()  # "weights of layers N.. not used" is the point here
    checkpoint = work / "checkpoint"
    model = transformers.AutoModel.from_pretrained(src, num_hidden_layers=layers, trust_remote_code=trust_remote_code)
    model.save_pretrained(checkpoint)
    transformers.AutoTokenizer.from_pretrained(src, trust_remote_code=trust_remote_code).save_pretrained(checkpoint)
    exporters.main_export(str(checkpoint), work / "onnx", task="feature-extraction", library_name="transformers",
                          do_validation=False, trust_remote_code=trust_remote_code)
    (work / "onnx" / "model.onnx").replace(out)
    shutil.rmtree(work, ignore_errors=True)


def _link(src: Path, dst: Path) -> None:
    try:
        dst.hardlink_to(src)
    except OSError:  # another filesystem
        shutil.copy2(src, dst)


def _verify(staging: Path, card: ModelCard, layers: int, src: str, texts: list[str], min_cosine: float,
            trust_remote_code: bool) -> float:
    """Smallest cosine between ``onnx-text`` with ``layers`` on ``staging`` and ``hidden_states[layers]`` of ``src``."""
    from .encoder import OnnxTextEncoder

    reference = reference_vectors(src, card, texts, layers=layers, trust_remote_code=trust_remote_code)
    ours = OnnxTextEncoder(model=str(staging), device="cpu", layers=layers).encode(texts)  # type: ignore[call-arg]
    _, smallest = compare_int8(reference, ours)
    if not smallest >= min_cosine:
        raise ExportVerificationError(
            f"the {layers}-layer graph of {card.name} differs from the source model's hidden state {layers}: "
            f"smallest cosine {smallest:.6f} < {min_cosine} on {len(texts)} sample texts; nothing was added",
            max_abs_diff=float(np.abs(reference - ours).max()))
    if depth_key("model_int8", layers) in ModelCard.read(staging).files:  # the same check as export's int8
        int8 = OnnxTextEncoder(model=str(staging), device="cpu", layers=layers, precision="int8").encode(texts)
        mean_int8, min_int8 = compare_int8(ours, int8)
        if mean_int8 < INT8_MIN_MEAN_COSINE:
            raise ExportVerificationError(
                f"the {layers}-layer int8 graph's mean cosine to fp32 is {mean_int8:.4f} < {INT8_MIN_MEAN_COSINE} "
                f"(min {min_int8:.4f}); nothing was added", max_abs_diff=float(np.abs(ours - int8).max()))
    return smallest
