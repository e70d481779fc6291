"""Real servers on 127.0.0.1: uvicorn in a thread (``serve_app``) or in a process (``ServerProcess``).

Importing this module skips the test module, saying why, when the serve extra is not installed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install 'embedspec[serve]'")
pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install 'embedspec[serve]'")
pytest.importorskip("prometheus_client", reason="the serve extra is not installed: pip install 'embedspec[serve]'")
httpx = pytest.importorskip("httpx", reason="the tests talk to the server with httpx (the test extra)")

HOST = "127.0.0.1"


def free_socket() -> socket.socket:
    """A listening socket on a free loopback port (handed to uvicorn: no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


def hashing_spec(path: Path | None = None, dim: int = 64) -> dict[str, Any]:
    index: dict[str, Any] = {"type": "exact"}
    if path is not None:
        index["path"] = str(path)
    return {"version": 1, "encoder": {"type": "hashing", "dim": dim}, "index": index}


@contextlib.contextmanager
def serve_app(spec: Any, **settings: Any) -> Iterator[str]:
    """Serve ``create_app(spec, **settings)`` with uvicorn in a thread; yields the base URL."""
    import uvicorn
    from embedspec.serve import create_app

    app = create_app(spec, **settings)
    sock = free_socket()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{HOST}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


class ServerProcess:
    """``embedspec serve SPEC`` in a child process on a free port (for kill and restart tests)."""

    def __init__(self, spec_file: Path, *args: str, env: dict[str, str] | None = None) -> None:
        with contextlib.closing(free_socket()) as sock:
            self.port = sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        cmd = [sys.executable, "-c", "from embedspec.cli import main; main()", "serve", str(spec_file),
               "--port", str(self.port), "--log-level", "warning", *args]
        self.log = spec_file.parent / f"server-{self.port}.log"
        self._log = self.log.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "EMBEDSPEC_PROGRESS": "0", **(env or {})})

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the server was not ready in {timeout} s: {self.log.read_text()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM: graceful shutdown; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.proc.returncode
