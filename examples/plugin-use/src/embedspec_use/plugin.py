"""Hook implementations: registers the ``use-multilingual`` encoder."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .encoder import USEMultilingualEncoder

    register("use-multilingual", USEMultilingualEncoder)  # the config model is the class's Config
