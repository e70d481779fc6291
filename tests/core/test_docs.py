"""The spec reference in docs/ is generated from the registered config models and must not drift."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import pytest
from embedspec.plugins import get_registry
from embedspec.schema import spec_reference_markdown

REPO = Path(__file__).resolve().parents[2]
REPO_DISTRIBUTIONS = [
    "embedspec-onnx", "embedspec-qdrant", "embedspec-unified", "embedspec-gfun",
    "embedspec-random-projection", "embedspec-use", "embedspec-cade", "embedspec-bm25",
]


def test_spec_reference_is_current(fresh_plugins):
    missing = []
    for dist in REPO_DISTRIBUTIONS:
        try:
            md.distribution(dist)
        except md.PackageNotFoundError:
            missing.append(dist)
    if missing:
        pytest.skip(f"the reference covers every plugin in the repo; not installed: {', '.join(missing)}")
    expected = spec_reference_markdown(get_registry())
    current = (REPO / "docs" / "spec-reference.md").read_text(encoding="utf-8")
    assert current == expected, (
        "docs/spec-reference.md is stale: regenerate it with `embedspec schema --markdown > docs/spec-reference.md`"
    )
