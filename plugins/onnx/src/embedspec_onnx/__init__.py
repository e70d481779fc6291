"""embedspec-onnx: ONNX encoders for embedspec (``onnx-text``; ``onnx-clip``), export and int8.

Importing this package imports no heavy library: onnxruntime, tokenizers, optimum, transformers
and torch load when an encoder warms up or an export runs.

Layout: ``common/`` (the model directory card, hf:// snapshots, onnxruntime sessions, tokenization,
int8/fp16 graphs), ``text/`` (``onnx-text``: encoder, catalogue, export), ``clip/`` (``onnx-clip``:
encoder, image preprocessing, export, zero-shot); ``commands.py`` and ``plugin.py`` wire them to the CLI.
"""

from .common.card import ModelCard, ModelDirectoryError
from .text.encoder import OnnxTextEncoder, OnnxTextEncoderConfig

__all__ = ["ModelCard", "ModelDirectoryError", "OnnxTextEncoder", "OnnxTextEncoderConfig"]
