"""Fixtures of the server tests (helpers live in serving.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def server_process() -> Iterator[Any]:
    """A factory of started ``serving.ServerProcess``; each is killed after the test if still running."""
    from serving import ServerProcess

    started: list[ServerProcess] = []

    def start(spec_file: Path, *args: str, env: dict[str, str] | None = None) -> ServerProcess:
        proc = ServerProcess(spec_file, *args, env=env)
        started.append(proc)
        proc.wait_ready()
        return proc

    yield start
    for proc in started:
        if proc.proc.poll() is None:
            proc.kill()
        proc._log.close()
