"""Run the server with uvicorn: one process, or several workers that each load the spec."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import SpecError
from .app import LOG_LEVEL_ENV, SETTINGS_ENV, SPEC_ENV, configure_logging, create_app
from .config import SECRET_FIELDS, ServeSettings, resolve_settings, split_spec


def run_server(spec: str, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
               log_level: str = "info", overrides: dict[str, Any] | None = None) -> None:
    """Serve ``spec`` until SIGINT/SIGTERM, then drain, flush and close (uvicorn's graceful shutdown)."""
    import uvicorn

    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    configure_logging(log_level)
    if workers <= 1:
        app = create_app(spec, **overrides)
        settings: ServeSettings = app.state.settings
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                    timeout_graceful_shutdown=int(settings.request_timeout_s) + 1)
        return
    settings = _check_workers(spec, overrides, workers)
    os.environ[SPEC_ENV] = str(Path(spec).resolve())
    os.environ[LOG_LEVEL_ENV] = log_level
    os.environ[SETTINGS_ENV] = json.dumps({k: v for k, v in overrides.items() if k not in SECRET_FIELDS})
    uvicorn.run("embedspec.serve:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False,
                timeout_graceful_shutdown=int(settings.request_timeout_s) + 1)


def _check_workers(spec: str, overrides: dict[str, Any], workers: int) -> ServeSettings:
    """Several workers are several processes opening the index: read-only, or an index server."""
    from ..pipeline import build

    pipeline_spec, block = split_spec(spec)
    settings = resolve_settings(block, overrides)
    pipeline = build(pipeline_spec)
    try:
        shared = bool(getattr(pipeline.index, "url", None))
    finally:
        pipeline.close()
    if not shared and not settings.read_only:
        where = getattr(pipeline.index, "path", None)
        raise SpecError(
            f"--workers {workers} would give the index ({where or 'in memory'}) {workers} writers, but an index "
            "has one writer: add --read-only, point the index at a server (qdrant url), or run one worker"
        )
    return settings
