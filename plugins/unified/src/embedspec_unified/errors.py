"""Errors about input records; each names the record position and the feature."""

from __future__ import annotations

from embedspec.errors import EmbedspecError


class RecordError(EmbedspecError, ValueError):
    """A record is malformed: not a mapping, an unknown or missing feature, a bad value."""

    def __init__(self, message: str, position: int | None = None, feature: str | None = None) -> None:
        super().__init__(message)
        self.position = position
        self.feature = feature


class RecordValueTypeError(RecordError, TypeError):
    """A feature value is not a categorical value (str, int, float, bool, bytes or None)."""
