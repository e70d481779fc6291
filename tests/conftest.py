"""Shared fixtures: the evaluation data folder, and a clean plugin registry per test that needs one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
