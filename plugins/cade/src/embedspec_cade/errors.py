"""Errors of embedspec-cade; each inherits ``EmbedspecError`` and the matching built-in."""

from __future__ import annotations

from embedspec.errors import EmbedspecError


class UnknownWordError(EmbedspecError, KeyError):
    """A word is not in a slice's vocabulary (too rare there, or absent)."""

    def __init__(self, message: str, word: str, slice: str) -> None:
        super().__init__(message)
        self.word = word
        self.slice = slice

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class UnknownSliceError(EmbedspecError, KeyError):
    """A slice name the model was not trained on."""

    def __str__(self) -> str:
        return str(self.args[0])


class CorpusError(EmbedspecError, ValueError):
    """Training input is unusable: no slices, an empty slice, no word above ``min_count``."""


class StateError(EmbedspecError, ValueError):
    """A saved CADE state is missing, incomplete or inconsistent."""
