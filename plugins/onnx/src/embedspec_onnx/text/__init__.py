"""``onnx-text``: the text encoder, the model catalogue, export (with its reference forward pass).

Importing this package imports no heavy library; onnxruntime and tokenizers load when an encoder
warms up, transformers/torch/optimum only in ``export``.
"""
