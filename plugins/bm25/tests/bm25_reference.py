"""The small corpus of the embedspec-bm25 tests and Lucene's IDF (the variant bm25 and its indexes use)."""

from __future__ import annotations

import math

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A fox is a small omnivorous mammal; foxes hunt rodents at night.",
    "Dogs and cats are the most popular pets in the world.",
    "Cats sleep for most of the day and hunt at night.",
    "The brown bear is one of the largest land carnivores.",
    "Running dogs chase running foxes across the fields.",
    "Insulin resistance increases the risk of type 2 diabetes.",
    "Vitamin D deficiency is associated with bone fractures in older adults.",
    "The protein binds to DNA and regulates gene expression in cells.",
    "Gene expression changes in tumour cells were measured by sequencing.",
    "Bears, foxes and dogs belong to the order Carnivora.",
    "Exercise lowers blood glucose and improves insulin sensitivity.",
]
QUERIES = ["brown fox", "dogs hunting at night", "insulin and diabetes risk", "gene expression in cells",
           "fox fox dog", "carnivores"]


def lucene_idf(n: int, df: float) -> float:
    """Lucene's BM25 IDF, the variant ``bm25`` and its indexes implement."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

