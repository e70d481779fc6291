"""int8 graphs that keep fp32's quality, and fp16 graphs for GPUs.

What made the difference on all-MiniLM-L6-v2 (SciFact abstracts, cosine to fp32; see docs/onnx.md):

- ``quantize_dynamic`` defaults (per-tensor weight scales, every MatMul and Gather): mean 0.936.
- **per-channel weight scales** (one scale per output column): mean 0.995, min 0.991. One scale for a
  whole 384x1536 matrix lets a few large columns crush the resolution of all the others.
- **only MatMuls with a constant B** (``MatMulConstBOnly``): the activation x activation products of
  attention (QK^T, softmax x V) stay fp32; speed roughly doubles over the defaults because those
  small dynamic matmuls paid quantize/dequantize costs without int8 gains, and Gather (embedding
  lookup) stays fp32.
- ``reduce_range`` (7-bit weights, for CPUs without VNNI) lowers quality; VNNI/AVX-512 CPUs do not need it.
"""

from __future__ import annotations

from pathlib import Path

from .runtime import require

INT8_METHOD = "dynamic, per-channel QInt8 weights, MatMul with constant weights only (attention products fp32)"


def quantize_int8(src: Path, dst: Path) -> Path:
    """Write the int8 version of fp32 graph ``src`` to ``dst`` (weights int8, activations dynamic)."""
    quantization = require("onnxruntime.quantization")
    quantization.quantize_dynamic(
        str(src),
        str(dst),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        reduce_range=False,
        weight_type=quantization.QuantType.QInt8,
        extra_options={"MatMulConstBOnly": True},
    )
    return dst


def convert_fp16(src: Path, dst: Path) -> Path:
    """Write an fp16 copy of ``src`` (inputs/outputs stay as they were) for the CUDA provider."""
    onnx = require("onnx")
    float16 = require("onnxruntime.transformers.float16")
    model = onnx.load(str(src))
    onnx.save(float16.convert_float_to_float16(model, keep_io_types=True), str(dst))
    return dst
