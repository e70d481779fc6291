"""The text analyzer of ``bm25``: Unicode normalization, tokenization, case folding, stop words, stemming.

Steps, per text (the same for documents and queries):

1. NFKC normalization (compatibility forms: ligatures, full-width letters) and ``str.casefold``
   (Unicode-aware lower-casing: ``Straße`` -> ``strasse``);
2. tokens: maximal runs of letters, combining marks and digits (``[\\p{L}\\p{M}\\p{N}]+``, so Devanagari
   or Tamil words keep their vowel signs); in English an apostrophe inside a word is kept
   (``don't``, ``cell's``: the English Snowball stemmer removes the possessive), elsewhere it splits;
3. stop words removed (before stemming, as Lucene does);
4. each remaining token stemmed with the language's Snowball stemmer (PyStemmer, the C build of the
   Snowball project's algorithms).

Languages are the Snowball stemmers', named in English (``english``) or by ISO 639-1 code (``en``).
Default stop-word lists come from ``bm25s.stopwords`` (English: Lucene's 33 words, the list the BEIR
BM25 baseline used; the other languages: the Snowball lists as NLTK ships them).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

#: Snowball language -> (ISO 639-1 code, name of its list in ``bm25s.stopwords`` or None).
LANGUAGES: dict[str, tuple[str, str | None]] = {
    "arabic": ("ar", None),
    "armenian": ("hy", None),
    "basque": ("eu", None),
    "catalan": ("ca", None),
    "czech": ("cs", None),
    "danish": ("da", "STOPWORDS_DANISH"),
    "dutch": ("nl", "STOPWORDS_DUTCH"),
    "english": ("en", "STOPWORDS_EN"),
    "esperanto": ("eo", None),
    "estonian": ("et", None),
    "finnish": ("fi", None),
    "french": ("fr", "STOPWORDS_FRENCH"),
    "german": ("de", "STOPWORDS_GERMAN"),
    "greek": ("el", None),
    "hindi": ("hi", None),
    "hungarian": ("hu", None),
    "indonesian": ("id", None),
    "irish": ("ga", None),
    "italian": ("it", "STOPWORDS_ITALIAN"),
    "lithuanian": ("lt", None),
    "nepali": ("ne", None),
    "norwegian": ("no", "STOPWORDS_NORWEGIAN"),
    "persian": ("fa", None),
    "polish": ("pl", None),
    "portuguese": ("pt", "STOPWORDS_PORTUGUESE"),
    "romanian": ("ro", None),
    "russian": ("ru", "STOPWORDS_RUSSIAN"),
    "serbian": ("sr", None),
    "sesotho": ("st", None),
    "spanish": ("es", "STOPWORDS_SPANISH"),
    "swedish": ("sv", "STOPWORDS_SWEDISH"),
    "tamil": ("ta", None),
    "turkish": ("tr", "STOPWORDS_TURKISH"),
    "yiddish": ("yi", None),
}
_BY_CODE = {code: name for name, (code, _) in LANGUAGES.items()}

_WORD = r"[\p{L}\p{M}\p{N}]+"
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\uff07": "'"})


def language_name(language: str) -> str:
    """The Snowball name of ``language`` (a name or an ISO 639-1 code, any case); ``ValueError`` if unknown."""
    key = language.strip().lower()
    if key in LANGUAGES:
        return key
    if key in _BY_CODE:
        return _BY_CODE[key]
    raise ValueError(
        f"unknown language {language!r}: bm25 analyzes {', '.join(LANGUAGES)} "
        "(Snowball stemmers; also by ISO 639-1 code, e.g. 'en')"
    )


def default_stopwords(language: str) -> frozenset[str] | None:
    """The default stop words of Snowball language ``language``, None when the library has no list."""
    attr = LANGUAGES[language][1]
    if attr is None:
        return None
    from bm25s import stopwords

    return frozenset(unicodedata.normalize("NFKC", w).casefold() for w in getattr(stopwords, attr))


class Analyzer:
    """``analyze(text) -> list[str]`` of stemmed terms, for one language (see the module docstring)."""

    def __init__(self, language: str, stopwords: Iterable[str] = (), stem: bool = True) -> None:
        import regex
        import Stemmer

        self.language = language_name(language)
        pattern = rf"{_WORD}(?:'{_WORD})*" if self.language == "english" else _WORD
        self._tokens = regex.compile(pattern)
        self.stopwords = frozenset(unicodedata.normalize("NFKC", w).casefold() for w in stopwords)
        self._stemmer: Any = Stemmer.Stemmer(self.language) if stem else None

    def tokenize(self, text: str) -> list[str]:
        """Case-folded tokens of ``text``, stop words removed, not stemmed."""
        folded = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
        stop = self.stopwords
        return [t for t in self._tokens.findall(folded) if t not in stop]

    def analyze(self, text: str) -> list[str]:
        """The terms of ``text``: tokens, stop words removed, stemmed."""
        tokens = self.tokenize(text)
        return self._stemmer.stemWords(tokens) if self._stemmer is not None else tokens

    def analyze_all(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.analyze(t) for t in texts]
