"""embedspec-cade: compass-aligned distributional embeddings (CADE) for comparing corpora and periods."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["CadeModel", "CadeSettings", "SliceSpaces", "SliceVectors", "__version__"]


def __getattr__(name: str):  # lazy: importing the package pulls in no heavy library
    if name == "CadeModel":
        from .model import CadeModel

        return CadeModel
    if name == "CadeSettings":
        from .settings import CadeSettings

        return CadeSettings
    if name in ("SliceSpaces", "SliceVectors"):
        from . import spaces

        return getattr(spaces, name)
    raise AttributeError(name)
