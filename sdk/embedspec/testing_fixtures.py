"""pytest fixtures shared by the tests of embedspec and of its plugins (this module needs pytest).

A plugin's ``tests/conftest.py`` imports the fixtures it uses, and ``pytest_configure`` (which
registers the ``slow`` and ``data`` markers when the plugin's tests run outside the repository)::

    from embedspec.testing_fixtures import fresh_plugins, pytest_configure, shared_data  # noqa: F401

Imported into a conftest, a fixture serves the tests of that folder whether pytest runs from the
repository root or in the plugin's folder alone (a ``pytest_plugins`` list would be refused in any
conftest pytest does not load at start-up). Session fixtures that build something expensive keep
it at a fixed place under pytest's base temporary directory, so two folders share one copy.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Markers of embedspec's tests (the root pyproject.toml declares the same).
MARKERS = {
    "slow": "takes more than a few seconds (model export, large data)",
    "data": "needs ../shared/data",
}


def pytest_configure(config: pytest.Config) -> None:
    """Declare ``MARKERS`` (a conftest that imports this hook runs it when pytest loads the conftest)."""
    for name, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {meaning}")


def need(*modules: str, install: str = "") -> None:
    """Skip the calling test, saying which modules are missing (and ``install``: how to get them)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        hint = f" ({install})" if install else ""
        pytest.skip(f"needs {', '.join(missing)}{hint}")


def data_folder(config: pytest.Config) -> Path:
    """``$EMBEDSPEC_DATA``, else ``shared/data`` beside the directory pytest runs in (its rootdir)."""
    return Path(os.environ.get("EMBEDSPEC_DATA", config.rootpath.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data(pytestconfig: pytest.Config) -> Path:
    """The evaluation data folder (see ``data_folder``); skips the test, saying why, when absent."""
    folder = data_folder(pytestconfig)
    if not folder.is_dir():
        pytest.skip(f"evaluation data not found at {folder} (set EMBEDSPEC_DATA to its folder)")
    return folder


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Reload plugins before and after the test, so run-time registrations never leak."""
    from embedspec.plugins import reset_plugins

    reset_plugins()
    try:
        yield
    finally:
        reset_plugins()
