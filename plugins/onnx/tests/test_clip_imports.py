"""Importing the CLIP modules and listing components imports no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["onnxruntime", "torch", "transformers", "tokenizers", "PIL", "optimum", "huggingface_hub"]


def test_clip_modules_import_no_heavy_library() -> None:
    code = (
        "import sys, json\n"
        "import embedspec_onnx.clip.encoder, embedspec_onnx.clip.zeroshot, embedspec_onnx.clip.card\n"
        "import embedspec_onnx.clip.export, embedspec_onnx.clip.images, embedspec_onnx.clip.preprocess\n"
        "from embedspec.plugins import get_registry\n"
        "reg = get_registry().get('encoder', 'onnx-clip')\n"
        f"print(json.dumps([reg.factory.__name__, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    name, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert name == "OnnxClipEncoder"
    assert loaded == [], f"importing the CLIP modules loaded {loaded}"
