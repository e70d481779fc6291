"""embedspec-qdrant's tests use no shared fixture; this declares the test markers (``slow``) when the
plugin's tests run outside the repository. Run from the repository root (``pytest``) or from this
plugin's folder (``pytest tests``)."""

from __future__ import annotations

from embedspec.testing_fixtures import pytest_configure  # noqa: F401 - declares the markers
