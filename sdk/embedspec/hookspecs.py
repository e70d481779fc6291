"""The hooks a plugin implements. Each takes a ``register`` callback:

    @hookimpl
    def register_encoders(register):
        register("my-encoder", MyEncoder, MyEncoderConfig)
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "embedspec"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_encoders(register: Any) -> None:
    """Register Encoder factories: ``register(name, factory, config_model)``."""


@hookspec
def register_indexes(register: Any) -> None:
    """Register Index factories: ``register(name, factory, config_model)``."""


@hookspec
def register_aligners(register: Any) -> None:
    """Register Aligner factories: ``register(name, factory, config_model)``."""


@hookspec
def register_compressors(register: Any) -> None:
    """Register Compressor factories: ``register(name, factory, config_model)``."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add subcommands to the ``embedspec`` click group."""
