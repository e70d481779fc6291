"""Hook implementations: the ``onnx-text`` (and ``onnx-clip``) encoders and the CLI commands."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .clip.encoder import OnnxClipEncoder
    from .text.encoder import OnnxTextEncoder

    register("onnx-text", OnnxTextEncoder)  # the config model is the class's Config
    register("onnx-clip", OnnxClipEncoder)


@hookimpl
def register_commands(cli: Any) -> None:
    from .clip.commands import images_command
    from .commands import doctor_command, export_command, models_command

    cli.add_command(export_command)
    cli.add_command(models_command)
    cli.add_command(doctor_command)
    cli.add_command(images_command)
