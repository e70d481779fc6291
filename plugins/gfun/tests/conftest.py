"""Fixtures for the gfun tests: the toy concept encoder registered as a plugin, one BLAS thread. Run
from the repository root (``pytest``) or from this plugin's folder (``pytest tests``)."""

from __future__ import annotations

from typing import Any

import pytest
from embedspec.hookspecs import hookimpl
from embedspec.testing_fixtures import fresh_plugins, pytest_configure, shared_data  # noqa: F401
from gfun_synthetic import ConceptEncoder, ConceptEncoderConfig, make_corpus


class _ConceptPlugin:
    @hookimpl
    def register_encoders(self, register: Any) -> None:
        register("test-concepts", ConceptEncoder, ConceptEncoderConfig)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small fits: many BLAS threads on a shared 2-core machine make them ~10x slower, not faster."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def concept_encoder_plugin(fresh_plugins):  # noqa: F811 - the imported fixture, requested
    """Registers the ``test-concepts`` encoder for one test."""
    from embedspec.plugins import register_plugin, unregister_plugin

    register_plugin(_ConceptPlugin(), name="test-concepts")
    try:
        yield "test-concepts"
    finally:
        unregister_plugin("test-concepts")


@pytest.fixture(scope="module")
def bilingual_data() -> dict[str, Any]:
    """Train: 60 English + 60 German docs; test: 30 of each; plus 30 French docs for unseen-language tests."""
    tr_en, y_en = make_corpus("en", 60, seed=1)
    tr_de, y_de = make_corpus("de", 60, seed=2)
    te_en, ye_en = make_corpus("en", 30, seed=3)
    te_de, ye_de = make_corpus("de", 30, seed=4)
    fr, y_fr = make_corpus("fr", 30, seed=5)
    return {
        "train": (tr_en + tr_de, y_en + y_de),
        "test": (te_en + te_de, ye_en + ye_de),
        "french": (fr, y_fr),
    }
