"""Request bodies (pydantic, unknown fields refused) and the checks that name the offending field.

``input``/``query``/``texts`` are validated by hand rather than by a pydantic union, so the error
says exactly which element is wrong (``input[3] is a list of token ids``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from .errors import APIError

PointIdField = StrictInt | StrictStr


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingsRequest(Body):
    """``POST /v1/embeddings`` (OpenAI's fields, plus ``role``)."""

    input: Any = Field(description="a string or a list of strings")
    model: StrictStr | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: StrictInt | None = Field(None, ge=1)
    user: StrictStr | None = None
    role: Literal["query", "document"] = "document"


class SearchRequest(Body):
    """``POST /v1/search``."""

    query: Any = Field(description="a string or a list of strings")
    k: StrictInt = Field(10, ge=1, le=1000)
    filter: dict[str, Any] | None = None
    model: StrictStr | None = None


class DocumentRecord(Body):
    text: StrictStr
    id: PointIdField | None = None
    payload: dict[str, Any] | None = None


class DocumentsRequest(Body):
    """``POST /v1/documents``: ``texts`` (strings) or ``records`` (text, optional id and payload)."""

    texts: list[Any] | None = None
    records: list[DocumentRecord] | None = None


class DeleteRequest(Body):
    """``DELETE /v1/documents``."""

    ids: list[PointIdField] = Field(min_length=1)


def text_list(value: Any, field: str, limit: int) -> list[str]:
    """A string or a non-empty list of strings, at most ``limit``; token ids are refused by name."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise APIError(400, f"{field} must be a string or a list of strings, got {_kind(value)}",
                       param=field, code="invalid_type")
    if not value:
        raise APIError(400, f"{field} is an empty list; send at least one string", param=field, code="empty_input")
    if len(value) > limit:
        raise APIError(400, f"{field} has {len(value)} items; at most {limit} per request", param=field,
                       code="too_many_inputs")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _token_ids(field)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            if isinstance(item, list) and all(isinstance(v, int) for v in item):
                raise _token_ids(f"{field}[{i}]")
            raise APIError(400, f"{field}[{i}] must be a string, got {_kind(item)}", param=f"{field}[{i}]",
                           code="invalid_type")
    return value


def _token_ids(where: str) -> APIError:
    return APIError(
        400,
        f"{where} is a list of token ids; this server takes text and tokenizes it with its own model's "
        "tokenizer: send strings (LangChain's OpenAIEmbeddings: check_embedding_ctx_length=False)",
        param=where, code="token_ids_not_supported",
    )


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def documents(body: DocumentsRequest, limit: int) -> tuple[list[str], list[Any] | None, list[Any] | None]:
    """(texts, ids or None, payloads or None) from ``texts`` or ``records`` (exactly one of them)."""
    if (body.texts is None) == (body.records is None):
        raise APIError(400, "send either texts (a list of strings) or records (objects with text, id, payload)",
                       param="texts" if body.texts is None else "records", code="invalid_value")
    if body.texts is not None:
        return text_list(body.texts, "texts", limit), None, None
    records = body.records or []
    if not records:
        raise APIError(400, "records is an empty list", param="records", code="empty_input")
    if len(records) > limit:
        raise APIError(400, f"records has {len(records)} items; at most {limit} per request", param="records",
                       code="too_many_inputs")
    with_id = [r.id is not None for r in records]
    if any(with_id) and not all(with_id):
        i = with_id.index(False)
        raise APIError(400, f"records[{i}] has no id while others do: give an id to every record or to none",
                       param=f"records[{i}].id", code="missing_field")
    ids = [r.id for r in records] if all(with_id) else None
    if ids is not None:
        seen: dict[Any, int] = {}
        for i, pid in enumerate(ids):
            if pid in seen:
                raise APIError(400, f"records[{i}].id {pid!r} repeats records[{seen[pid]}].id",
                               param=f"records[{i}].id", code="duplicate_id")
            seen[pid] = i
    payloads = [r.payload for r in records]
    return [r.text for r in records], ids, payloads if any(p is not None for p in payloads) else None
