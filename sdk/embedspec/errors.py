"""The exceptions embedspec raises; each also inherits the matching built-in."""

from __future__ import annotations

from typing import Any


class EmbedspecError(Exception):
    """Base class of every embedspec error."""


class SpecError(EmbedspecError, ValueError):
    """A spec is invalid. ``issues`` holds every located problem found."""

    def __init__(self, message: str, issues: list[Any] | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues or [])


class PluginError(EmbedspecError, RuntimeError):
    """A plugin failed to load or registered something invalid."""

    def __init__(self, message: str, plugin: str | None = None, distribution: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.distribution = distribution


class UnknownComponentError(EmbedspecError, KeyError):
    """No component is registered under the requested name."""

    def __init__(self, message: str, name: str, kind: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.name = name
        self.kind = kind
        self.suggestions = suggestions

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class NotFittedError(EmbedspecError, AttributeError):
    """A trainable component was used before ``fit`` or ``load``."""


class DimensionMismatchError(SpecError):
    """Two connected components disagree on the vector dimension (also a ``SpecError``, a ``ValueError``)."""


class IndexLockedError(EmbedspecError, RuntimeError):
    """Another process (or open index object) holds the index directory; ``path`` names it."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ReadOnlyError(EmbedspecError, PermissionError):
    """A write was attempted through an index opened read-only (``build(spec, read_only=True)``)."""


class PartialWriteError(EmbedspecError, RuntimeError):
    """A write of several batches failed after ``committed`` documents had been written (and flushed)."""

    def __init__(self, message: str, committed: int) -> None:
        super().__init__(message)
        self.committed = committed


class ResourceError(EmbedspecError, ValueError):
    """What a component's parameters point at (a file, a model directory, a server) is missing or
    broken. ``field`` names the spec field at fault, so validation can locate it (``encoder.model``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DatasetError(EmbedspecError, ValueError):
    """An evaluation data file is missing or malformed (the message names the file and line)."""
