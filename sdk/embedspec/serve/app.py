"""``create_app(spec)``: the Starlette application serving a spec (run it with uvicorn)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from ..errors import SpecError
from .auth import KeyCheck
from .config import ServeSettings, resolve_settings, split_spec
from .errors import APIError
from .metrics import ObservedApp, ServerMetrics
from .routes import ROUTES, json_response
from .service import PipelineService

logger = logging.getLogger("embedspec.serve")

#: Environment variables read by ``uvicorn --factory embedspec.serve:app_from_env`` (several workers):
#: the spec file, and JSON settings (never keys: those come from EMBEDSPEC_API_KEY / EMBEDSPEC_WRITE_KEY).
SPEC_ENV = "EMBEDSPEC_SERVE_SPEC"
SETTINGS_ENV = "EMBEDSPEC_SERVE_SETTINGS"
LOG_LEVEL_ENV = "EMBEDSPEC_SERVE_LOG_LEVEL"


def configure_logging(level: str) -> None:
    """Server and access logs to stderr (access lines are JSON objects)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("embedspec.serve")
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


def create_app(spec: Any, settings: ServeSettings | Mapping[str, Any] | None = None, **overrides: Any) -> Starlette:
    """An ASGI application serving ``spec`` (a path, YAML text, mapping, ``Spec`` or built ``Pipeline``).

    Settings: the spec file's ``serve:`` block, then ``EMBEDSPEC_API_KEY`` / ``EMBEDSPEC_WRITE_KEY``,
    then ``settings`` and keyword ``overrides`` (``max_batch_items=32``...). The pipeline is built
    now (spec errors surface before a port is bound); the model loads and the index opens when the
    server starts; shutdown drains queued requests, then flushes and closes the index. The app owns
    the pipeline: it closes it on shutdown.
    """
    from ..pipeline import Pipeline, build

    pipeline_spec, block = split_spec(spec)
    if isinstance(settings, ServeSettings):
        settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        settings = ServeSettings.model_validate(settings.model_dump())
    else:
        settings = resolve_settings(block, {**dict(settings or {}), **overrides})
    pipeline = pipeline_spec if isinstance(pipeline_spec, Pipeline) else build(pipeline_spec)
    return _application(pipeline, settings)


def app_from_env() -> Starlette:
    """The app for ``$EMBEDSPEC_SERVE_SPEC`` (+ ``$EMBEDSPEC_SERVE_SETTINGS``): each worker's factory."""
    spec = os.environ.get(SPEC_ENV)
    if not spec:
        raise SpecError(f"set {SPEC_ENV} to the spec file to serve")
    try:
        overrides = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
    except json.JSONDecodeError as exc:
        raise SpecError(f"{SETTINGS_ENV} is not valid JSON: {exc}") from None
    if LOG_LEVEL_ENV in os.environ:
        configure_logging(os.environ[LOG_LEVEL_ENV])
    return create_app(spec, **overrides)


def _application(pipeline: Any, settings: ServeSettings) -> Starlette:
    service_ref: list[PipelineService] = []
    metrics = ServerMetrics(lambda: service_ref[0].batcher.queue_depth if service_ref else 0)
    service = PipelineService(pipeline, settings, metrics)
    service_ref.append(service)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        logger.info("serving model %s (dim %d) with index %s; keys: %s", service.model, service.dim,
                    type(pipeline.index).__name__, "on" if app.state.keys.enabled else "off")
        try:
            yield
        finally:
            await service.close()
            logger.info("stopped: queue drained, index flushed and closed")

    middleware = [Middleware(ObservedApp, metrics=metrics, access_log=settings.access_log)]
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(Middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                                     allow_methods=["GET", "POST", "DELETE"],
                                     allow_headers=["Authorization", "Content-Type"]))
    app = Starlette(routes=ROUTES, middleware=middleware, lifespan=lifespan,
                    exception_handlers={APIError: _api_error, HTTPException: _http_error, Exception: _server_error})
    app.state.service = service
    app.state.metrics = metrics
    app.state.keys = KeyCheck(settings.api_key, settings.write_key)
    app.state.settings = settings
    return app


async def _api_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, APIError):  # pragma: no cover - registered for APIError only
        raise exc
    return json_response(exc.body(), status=exc.status, headers=exc.headers or None)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", "") or ""
    if status == 404:
        detail = f"no route {request.method} {request.url.path}"
    elif status == 405:
        detail = f"method {request.method} is not allowed on {request.url.path}"
    error = APIError(status, detail, code="not_found" if status == 404 else None)
    return json_response(error.body(), status=status, headers=getattr(exc, "headers", None))


async def _server_error(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc,
                 exc_info=exc)
    error = APIError(500, f"internal error: {type(exc).__name__}", code="server_error")
    return json_response(error.body(), status=500)
