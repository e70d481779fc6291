"""Hook implementations: the ``onnx-text`` (and ``onnx-clip``) encoders and the CLI commands."""

from __future__ import annotations

from typing import Any

from embedspec.hookspecs import hookimpl


@hookimpl
def register_encoders(register: Any) -> None:
    from .encoder import OnnxTextEncoder, OnnxTextEncoderConfig

    register("onnx-text", OnnxTextEncoder, OnnxTextEncoderConfig)
    try:
        from .clip.encoder import OnnxClipConfig, OnnxClipEncoder
    except ImportError:  # the CLIP encoder is not part of this build yet
        return
    register("onnx-clip", OnnxClipEncoder, OnnxClipConfig)


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import export_command, models_command

    cli.add_command(export_command)
    cli.add_command(models_command)
    try:
        from .clip.commands import images_command
    except ImportError:  # the CLIP commands are not part of this build yet
        return
    cli.add_command(images_command)
