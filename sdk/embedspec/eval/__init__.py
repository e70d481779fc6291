"""Evaluation of pipelines. Never changes or closes the pipeline it is given.

    datasets.py, beir.py   load and validate labelled data (BEIR folders, sentence pairs, classification)
    metrics.py             ranking metrics (trec_eval conventions), correlation, F1, tied ranks
    encoding.py            EmbeddingCache, CachingEncoder (cached, timed encoding) and pipeline views
    retrieval.py           evaluate_retrieval: index a corpus, run the queries, score (the runner)
    similarity.py          evaluate_pairs: Spearman / Pearson of cosine similarities
    classification.py      evaluate_classification: a linear probe, macro/micro-F1
    compare.py             several specs on one BEIR split: table and plot
    cli.py                 the `embedspec eval` and `embedspec compare` commands

The names below are importable from ``embedspec.eval`` (loaded on first use).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_beir": "beir",
    "BeirDataset": "beir",
    "load_pairs": "datasets",
    "load_classification": "datasets",
    "evaluate_run": "metrics",
    "EmbeddingCache": "encoding",
    "CachingEncoder": "encoding",
    "evaluate_retrieval": "retrieval",
    "RetrievalResult": "retrieval",
    "evaluate_pairs": "similarity",
    "evaluate_classification": "classification",
    "LinearProbe": "classification",
    "compare_specs": "compare",
    "write_comparison": "compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'embedspec.eval' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
