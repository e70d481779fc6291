"""Hook implementations: the ``cade`` encoder, the ``compass`` aligner, and ``embedspec cade ...`` commands."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .encoder import CadeEncoder

    register("cade", CadeEncoder)  # the config model is the class's Config


@hookimpl
def register_aligners(register: Any) -> None:
    from .aligner import CadeAligner

    # Named apart from the encoder: `describe` finds a registration by name across kinds (see the README).
    register("compass", CadeAligner)


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import cade_group

    cli.add_command(cade_group)
