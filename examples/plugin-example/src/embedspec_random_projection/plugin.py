"""The plugin module named by the ``embedspec`` entry point: hook implementations only."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl

from .projection import RandomProjection


@hookimpl
def register_compressors(register: Any) -> None:
    register("random-projection", RandomProjection)  # validated with RandomProjection.Config
