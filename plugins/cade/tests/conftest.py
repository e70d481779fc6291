"""Fixtures of the embedspec-cade tests: real text shipped with gensim (the Lee news corpus), and one
small CADE model trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from cade_testdata import SMALL, gensim_test_data


@pytest.fixture(scope="session")
def lee_texts() -> list[str]:
    """300 Australian news articles (lee_background.cor, ~59k tokens), one per line."""
    return (gensim_test_data() / "lee_background.cor").read_text(encoding="latin-1").splitlines()


@pytest.fixture(scope="session")
def lee_test_texts() -> list[str]:
    """50 more articles of the same source (lee.cor), never seen in training."""
    return (gensim_test_data() / "lee.cor").read_text(encoding="latin-1").splitlines()


@pytest.fixture(scope="session")
def cade_model(lee_texts):
    """Slices ``first`` (articles 0-149), ``second`` (150-299) and ``union`` (all 300, i.e. the compass's text)."""
    from embedspec_cade.model import CadeModel

    return CadeModel(**SMALL).fit({"first": lee_texts[:150], "second": lee_texts[150:], "union": lee_texts})


@pytest.fixture(scope="session")
def cade_state(cade_model, tmp_path_factory) -> Path:
    return cade_model.save(tmp_path_factory.mktemp("cade") / "state")
