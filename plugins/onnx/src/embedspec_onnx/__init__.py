"""embedspec-onnx: ONNX encoders for embedspec (``onnx-text``; ``onnx-clip``), export and int8.

Importing this package imports no heavy library: onnxruntime, tokenizers, optimum, transformers
and torch load when an encoder warms up or an export runs.
"""

from .card import ModelCard, ModelDirectoryError
from .encoder import OnnxTextEncoder, OnnxTextEncoderConfig

__all__ = ["ModelCard", "ModelDirectoryError", "OnnxTextEncoder", "OnnxTextEncoderConfig"]
