#!/usr/bin/env bash
# GPU check for embedspec-onnx (run on a CUDA machine; not part of CI).
#   benchmarks/gpu_check.sh MODEL_DIR        e.g. models/all-MiniLM-L6-v2 (from `embedspec export ... --fp16`)
# Installs onnxruntime-gpu from wheels under .whl/ when present (offline: --no-index), then checks that
# device=cuda really runs on CUDAExecutionProvider, that its vectors match CPU fp32 (cosine >= 0.999),
# the fp16 graph too when the directory has one, and prints docs/s for CPU and GPU.
set -euo pipefail
MODEL_DIR=${1:?usage: benchmarks/gpu_check.sh MODEL_DIR}
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
if ls .whl/onnxruntime_gpu-*.whl >/dev/null 2>&1; then
  "$PY" -m pip uninstall -y -q onnxruntime || true        # the CPU and GPU wheels share the package name
  "$PY" -m pip install -q --no-index --find-links .whl onnxruntime-gpu
fi
"$PY" - "$MODEL_DIR" <<'PYEOF'
import sys, time
import numpy as np
import onnxruntime as ort
from embedspec_onnx import ModelCard, OnnxTextEncoder

model_dir = sys.argv[1]
print("onnxruntime", ort.__version__, "providers available:", ort.get_available_providers())
card = ModelCard.read(model_dir)
texts = [f"document {i}: " + "a sentence about proteins, genes and clinical trials. " * (1 + i % 12) for i in range(2000)]

def timed(enc):
    enc.encode(texts[:64])
    start = time.perf_counter()
    out = enc.encode(texts)
    return out, len(texts) / (time.perf_counter() - start)

cpu, cpu_rate = timed(OnnxTextEncoder(model=model_dir, device="cpu"))
gpu_enc = OnnxTextEncoder(model=model_dir, device="cuda", batch_size=128)
gpu, gpu_rate = timed(gpu_enc)
assert gpu_enc.applied_device == "cuda", "CUDAExecutionProvider did not apply"
print("session providers:", gpu_enc._session.get_providers())
cos = (cpu * gpu).sum(axis=1)
print(f"fp32 cuda vs cpu: cosine mean {cos.mean():.6f} min {cos.min():.6f}")
assert cos.min() >= 0.999, cos.min()
print(f"docs/s: cpu fp32 {cpu_rate:.1f}, cuda fp32 {gpu_rate:.1f}")
if "model_fp16" in card.files:
    fp16_enc = OnnxTextEncoder(model=model_dir, device="cuda", precision="fp16", batch_size=128)
    fp16, fp16_rate = timed(fp16_enc)
    cos16 = (cpu * fp16).sum(axis=1)
    print(f"fp16 cuda vs cpu fp32: cosine mean {cos16.mean():.6f} min {cos16.min():.6f}; {fp16_rate:.1f} docs/s")
    assert cos16.min() >= 0.999, cos16.min()
else:
    print("no model_fp16.onnx in the directory (export with --fp16 to check the fp16 path)")
print("GPU CHECK OK")
PYEOF
