"""CLIP-style (CLIP, SigLIP) image+text encoders: ``onnx-clip``, export, preprocessing, zero-shot.

Importing this package imports no heavy library; onnxruntime, tokenizers and Pillow load when an
encoder warms up, transformers/torch/optimum only in ``export``.
"""
