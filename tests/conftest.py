"""Shared fixtures of the root tests: the evaluation data folder, a clean plugin registry per test that
needs one (``embedspec.testing_fixtures``) and an exported MiniLM (``embedspec_onnx.testing_fixtures``).
Each plugin's ``plugins/<name>/tests/conftest.py`` imports the ones its tests use."""

from __future__ import annotations

import os

from embedspec.testing_fixtures import fresh_plugins, shared_data  # noqa: F401 - fixtures
from embedspec_onnx.testing_fixtures import minilm_checkpoint, minilm_dir  # noqa: F401 - fixtures

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
