"""int8 graphs that keep fp32's quality, and fp16 graphs for GPUs.

Three int8 methods (all-MiniLM-L6-v2, cosine to fp32, CPU time relative to fp32; docs/onnx.md):

``dynamic`` (default)  per-channel QInt8 weights, only MatMuls with constant weights, activations
                       quantized per batch: SciFact docs mean 0.995 (min 0.990), ~2.3x fp32.
``dynamic-ffn-fp32``   the same, but the FFN down-projections (whose input is the GELU output, the
                       most skewed activation) stay fp32: mean 0.998 (min 0.997), ~1.65x fp32.
``blockwise``          MatMulNBits, 8-bit weights in blocks of 32 with int8 activations per block
                       (accuracy_level 4): mean 0.9996 (min 0.999), ~1.3x fp32; needs ``onnx-ir``.

What made the difference: ``quantize_dynamic``'s defaults (one scale per weight matrix, every
MatMul and Gather quantized) give mean cosine 0.936. **Per-channel weight scales** lift it to 0.995:
one scale for a whole 384x1536 matrix lets a few large columns crush the resolution of all others.
**Only MatMuls with a constant B** keeps attention's activation x activation products (QK^T and
softmax x V) and the embedding Gather in fp32: speed ~1.7x better than the defaults, since those
small dynamic products paid quantization costs without int8 gains. ``reduce_range`` (7-bit, for CPUs
without VNNI) only lowers quality on VNNI/AVX-512 CPUs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from embedspec.base import l2_normalize

from .runtime import require

INT8_METHODS: dict[str, str] = {
    "dynamic": "dynamic: per-channel QInt8 weights, MatMuls with constant weights only",
    "dynamic-ffn-fp32": "dynamic: per-channel QInt8 weights, MatMuls with constant weights only, "
    "FFN down-projections kept fp32",
    "blockwise": "MatMulNBits: 8-bit symmetric weights, block 32, int8 activations (accuracy_level 4)",
}


def quantize_int8(src: Path, dst: Path, method: str = "dynamic") -> Path:
    """Write the int8 version of fp32 graph ``src`` to ``dst`` with ``method`` (see the module doc)."""
    if method not in INT8_METHODS:
        raise ValueError(f"int8 method must be one of {', '.join(INT8_METHODS)}, not {method!r}")
    if method == "blockwise":
        return _quantize_blockwise(src, dst)
    quantization = require("onnxruntime.quantization")
    exclude = ffn_down_projections(src) if method == "dynamic-ffn-fp32" else []
    quantization.quantize_dynamic(
        str(src),
        str(dst),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        reduce_range=False,
        weight_type=quantization.QuantType.QInt8,
        nodes_to_exclude=exclude,
        extra_options={"MatMulConstBOnly": True},
    )
    return dst


def ffn_down_projections(path: Path) -> list[str]:
    """MatMuls whose constant weight ``(K, N)`` projects down from the largest K (the FFN intermediate
    size) -- the FFN outputs; GQA key/value projections (K > N too) are not among them."""
    onnx = require("onnx")
    graph = onnx.load(str(path), load_external_data=False).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    weights = {
        node.name: shapes[node.input[1]]
        for node in graph.node
        if node.op_type == "MatMul" and len(node.input) > 1 and len(shapes.get(node.input[1], ())) == 2
    }
    widest = max((k for k, _ in weights.values()), default=0)
    return [name for name, (k, n) in weights.items() if k == widest and k > n]


def _quantize_blockwise(src: Path, dst: Path) -> Path:
    onnx = require("onnx")
    require("onnx_ir")  # imported by onnxruntime's MatMulNBits quantizer; not an onnxruntime dependency
    nbits = require("onnxruntime.quantization.matmul_nbits_quantizer")
    config = nbits.DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=True, accuracy_level=4, bits=8)
    quantizer = nbits.MatMulNBitsQuantizer(onnx.load(str(src)), algo_config=config)
    quantizer.process()
    quantizer.model.save_model_to_file(str(dst), False)
    return dst


def convert_fp16(src: Path, dst: Path) -> Path:
    """Write an fp16 copy of ``src`` (inputs/outputs stay as they were) for the CUDA provider."""
    onnx = require("onnx")
    float16 = require("onnxruntime.transformers.float16")
    model = onnx.load(str(src))
    onnx.save(float16.convert_float_to_float16(model, keep_io_types=True), str(dst))
    return dst


def compare_int8(fp32: np.ndarray, int8: np.ndarray) -> tuple[float, float]:
    """(mean, min) cosine between rows of two ``(n, d)`` arrays (an int8 graph's output against fp32's)."""
    a = l2_normalize(np.asarray(fp32, dtype=np.float32))
    b = l2_normalize(np.asarray(int8, dtype=np.float32))
    cos = (a * b).sum(axis=1)
    return float(cos.mean()), float(cos.min())
