"""Helpers shared by the embedspec-cade tests (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

#: Small but not degenerate: with 5 epochs a 60k-token corpus leaves all vectors nearly parallel.
SMALL = {"dim": 32, "epochs": 20, "min_count": 5, "negative": 5, "seed": 0}


def need_training() -> None:
    """Skip, saying why, when the training extra (gensim, numba) is not installed."""
    missing = [m for m in ("gensim", "numba") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"training needs {', '.join(missing)}: pip install 'embedspec-cade[train]'")


def gensim_test_data() -> Path:
    """gensim's test corpora (real text shipped in its wheel)."""
    need_training()
    import gensim

    return Path(gensim.__file__).parent / "test" / "test_data"
