"""Hook implementation registering the ``bm25`` encoder."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .encoder import Bm25Encoder

    register("bm25", Bm25Encoder)
