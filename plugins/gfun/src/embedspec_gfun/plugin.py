"""Hook implementations: registers the ``gfun`` encoder."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .encoder import GFunEncoder

    register("gfun", GFunEncoder)
