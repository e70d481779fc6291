"""Hook implementations registering the built-in components."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .hashing import HashingEncoder, HashingEncoderConfig

    register("hashing", HashingEncoder, HashingEncoderConfig)


@hookimpl
def register_indexes(register: Any) -> None:
    from .exact import ExactIndex, ExactIndexConfig

    register("exact", ExactIndex, ExactIndexConfig)


@hookimpl
def register_compressors(register: Any) -> None:
    from .binary import BinaryQuantizer, BinaryQuantizerConfig
    from .matryoshka import MatryoshkaCompressor, MatryoshkaConfig
    from .muvera import MuveraCompressor, MuveraConfig
    from .pq import ProductQuantizer, ProductQuantizerConfig
    from .scalar import Int8Quantizer, Int8QuantizerConfig

    register("matryoshka", MatryoshkaCompressor, MatryoshkaConfig)
    register("int8", Int8Quantizer, Int8QuantizerConfig)
    register("binary", BinaryQuantizer, BinaryQuantizerConfig)
    register("pq", ProductQuantizer, ProductQuantizerConfig)
    register("muvera", MuveraCompressor, MuveraConfig)


@hookimpl
def register_aligners(register: Any) -> None:
    from .procrustes import ProcrustesAligner, ProcrustesAlignerConfig

    register("procrustes", ProcrustesAligner, ProcrustesAlignerConfig)
