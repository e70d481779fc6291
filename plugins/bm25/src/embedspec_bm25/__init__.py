"""embedspec-bm25: Okapi BM25 as sparse vectors, with Snowball analyzers; the index keeps the IDF."""

from .analyzer import LANGUAGES, Analyzer
from .encoder import TERM_SPACE, Bm25Encoder, Bm25EncoderConfig, term_id

__all__ = ["LANGUAGES", "TERM_SPACE", "Analyzer", "Bm25Encoder", "Bm25EncoderConfig", "term_id"]
