"""From slice texts to sentences of tokens: lowercased words split at sentence ends.

A text is a ``str`` (tokenized here) or an already tokenized sentence (a sequence of ``str``).
Tokens are runs of word characters that contain a letter, with inner apostrophes or hyphens
(``don't``, ``well-known``); numbers and punctuation are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import CorpusError

_TOKEN = re.compile(r"\w+(?:['’-]\w+)*")
_LETTER = re.compile(r"[^\W\d_]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\r?\n(?=\s*[-*•])")


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of ``text`` (numbers and punctuation dropped)."""
    return [t.replace("’", "'") for t in _TOKEN.findall(text.lower()) if _LETTER.search(t)]


def sentences(text: str) -> list[list[str]]:
    """The non-empty sentences of ``text``, each a list of tokens."""
    out = []
    for part in _SENTENCE_END.split(text):
        tokens = tokenize(part)
        if tokens:
            out.append(tokens)
    return out


def slice_sentences(texts: Iterable[Any], slice_name: str) -> list[list[str]]:
    """Sentences of every text of one slice; raise ``CorpusError`` naming the slice and the position."""
    if isinstance(texts, (str, bytes)):
        raise CorpusError(
            f"slice {slice_name!r}: texts must be a list of strings (or of token lists), not one {type(texts).__name__}"
        )
    out: list[list[str]] = []
    for i, text in enumerate(texts):
        if isinstance(text, str):
            out.extend(sentences(text))
        elif isinstance(text, Sequence) and all(isinstance(t, str) for t in text):
            tokens = [t for t in text if t]
            if tokens:
                out.append(list(tokens))
        else:
            raise CorpusError(
                f"slice {slice_name!r}: text at position {i} is {type(text).__name__}; "
                "give strings or lists of token strings"
            )
    if not out:
        raise CorpusError(f"slice {slice_name!r} is empty: its texts contain no words")
    return out
