"""The HTTP routes: OpenAI-compatible embeddings and models, search, documents, operations."""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..base import l2_normalize
from ..errors import EmbedspecError
from .auth import Access
from .errors import APIError, from_validation
from .schemas import (
    DeleteRequest,
    DocumentsRequest,
    EmbeddingsRequest,
    SearchRequest,
    documents,
    text_list,
)
from .service import PipelineService

B = TypeVar("B", bound=BaseModel)


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False)
    return Response(body.encode("utf-8"), status, headers=headers, media_type="application/json")


def _service(request: Request, access: Access) -> PipelineService:
    request.app.state.keys.require(access, request.headers.get("authorization"))
    return request.app.state.service


async def read_body(request: Request, model: type[B], limit: int) -> B:
    """The JSON body validated by ``model``: 413 past ``limit`` bytes, 400 invalid JSON, 422 schema."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise _too_large(len(raw), limit)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise APIError(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise APIError(400, f"the request body must be a JSON object, got {type(data).__name__}", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _too_large(size: int, limit: int) -> APIError:
    return APIError(413, f"the request body has {size} bytes or more; the limit is {limit} (max_request_bytes)",
                    code="request_too_large")


def _encode_vector(row: np.ndarray, fmt: str) -> Any:
    if fmt == "base64":  # what OpenAI's SDKs ask for by default: little-endian float32 bytes
        return base64.b64encode(row.astype("<f4", copy=False).tobytes()).decode("ascii")
    return row.tolist()


# ---- OpenAI-compatible -------------------------------------------------------------------------
async def embeddings(request: Request) -> Response:
    service = _service(request, "read")
    settings = service.settings
    body = await read_body(request, EmbeddingsRequest, settings.max_request_bytes)
    texts = text_list(body.input, "input", settings.max_request_items)
    dim = service.dim
    if body.dimensions is not None and body.dimensions > dim:
        raise APIError(400, f"dimensions is {body.dimensions}, larger than the model's dimension {dim}",
                       param="dimensions", code="invalid_value")
    vectors, tokens = await service.embed(texts, body.role)
    if body.dimensions is not None and body.dimensions < dim:  # Matryoshka: truncate, then re-normalize
        vectors = l2_normalize(np.ascontiguousarray(vectors[:, : body.dimensions]))
    data = [{"object": "embedding", "embedding": _encode_vector(row, body.encoding_format), "index": i}
            for i, row in enumerate(vectors)]
    return json_response({"object": "list", "data": data, "model": service.model,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _model_card(service: PipelineService) -> dict[str, Any]:
    return {"id": service.model, "object": "model", "created": 0, "owned_by": "embedspec",
            "dimensions": service.dim}


async def list_models(request: Request) -> Response:
    service = _service(request, "read")
    return json_response({"object": "list", "data": [_model_card(service)]})


async def get_model(request: Request) -> Response:
    service = _service(request, "read")
    name = request.path_params["model"]
    if name != service.model:
        raise APIError(404, f"model {name!r} is not served here; this server serves {service.model!r}",
                       param="model", code="model_not_found")
    return json_response(_model_card(service))


# ---- search and documents ----------------------------------------------------------------------
async def search(request: Request) -> Response:
    service = _service(request, "read")
    body = await read_body(request, SearchRequest, service.settings.max_request_bytes)
    queries = text_list(body.query, "query", service.settings.max_request_items)
    try:
        results, tokens = await service.search(queries, body.k, body.filter)
    except APIError:
        raise
    except (EmbedspecError, ValueError, TypeError) as exc:
        raise APIError(400, str(exc), code="invalid_request") from None
    data = [{"object": "search_result", "index": i,
             "hits": [{"id": h.id, "score": h.score, "payload": h.payload} for h in hits]}
            for i, hits in enumerate(results)]
    return json_response({"object": "list", "data": data, "model": service.model,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _writable(service: PipelineService) -> None:
    if service.settings.read_only:
        raise APIError(403, "this server is read-only (read_only: true)", code="read_only")


async def add_documents(request: Request) -> Response:
    service = _service(request, "write")
    _writable(service)
    body = await read_body(request, DocumentsRequest, service.settings.max_request_bytes)
    texts, ids, payloads = documents(body, service.settings.max_request_items)
    try:
        written, tokens = await service.add(texts, ids, payloads)
    except APIError:
        raise
    except (EmbedspecError, ValueError, TypeError) as exc:
        raise APIError(400, f"nothing was written: {exc}", code="invalid_request") from None
    request.app.state.metrics.documents.labels("add").inc(len(written))
    count = await service.count()
    return json_response({"object": "documents", "ids": written, "count": count, "durable": service.persistent,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


async def delete_documents(request: Request) -> Response:
    service = _service(request, "write")
    _writable(service)
    body = await read_body(request, DeleteRequest, service.settings.max_request_bytes)
    try:
        count = await service.delete(list(body.ids))
    except APIError:
        raise
    except (EmbedspecError, ValueError, TypeError) as exc:
        raise APIError(400, f"nothing was deleted: {exc}", code="invalid_request") from None
    request.app.state.metrics.documents.labels("delete").inc(len(body.ids))
    return json_response({"object": "documents", "deleted": len(body.ids), "count": count,
                          "durable": service.persistent})


async def count_documents(request: Request) -> Response:
    service = _service(request, "read")
    return json_response({"object": "count", "count": await service.count()})


# ---- operations --------------------------------------------------------------------------------
async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    service: PipelineService = request.app.state.service
    if not service.ready:
        return json_response({"status": "starting", "ready": False}, status=503)
    return json_response({"status": "ready", "ready": True, "model": service.model,
                          "queue_depth": service.batcher.queue_depth})


async def metrics(request: Request) -> Response:
    _service(request, "read")
    body, content_type = request.app.state.metrics.exposition()
    return Response(body, media_type=content_type)


ROUTES = [
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", get_model, methods=["GET"]),
    Route("/v1/search", search, methods=["POST"]),
    Route("/v1/documents", add_documents, methods=["POST"]),
    Route("/v1/documents", delete_documents, methods=["DELETE"]),
    Route("/v1/documents/count", count_documents, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
