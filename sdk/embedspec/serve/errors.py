"""HTTP errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

``param`` names the offending request field (``input[3]``, ``dimensions``, ``filter.year``) so a
client can point at it; ``code`` is a stable machine-readable word.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import EmbedspecError

#: HTTP status -> OpenAI error ``type``.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
    504: "timeout_error",
}


class APIError(EmbedspecError, RuntimeError):
    """An error answered to the client with ``status`` and the OpenAI error body."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": ERROR_TYPES.get(self.status, "invalid_request_error"),
                          "param": self.param, "code": self.code}}


#: Labels pydantic puts in an error location for the member of a union (not field names).
_UNION_MEMBERS = frozenset({"int", "str", "float", "bool", "none", "list", "dict", "constrained-str", "constrained-int"})


def field_path(loc: tuple[Any, ...]) -> str:
    """``("input", 3)`` -> ``input[3]``; pydantic's union member labels (``int``, ``list[str]``) are dropped."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and (part in _UNION_MEMBERS or "[" in part or part.startswith("function-")):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path


def from_validation(exc: ValidationError) -> APIError:
    """The first schema violation as a 422 naming its field (all of them listed in the message)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    param = field_path(tuple(first["loc"])) or None
    parts: list[str] = []
    seen: set[str] = set()
    for err in errors:
        where = field_path(tuple(err["loc"])) or "body"
        if where in seen:  # one message per field (a union reports each member)
            continue
        seen.add(where)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "field required"
        parts.append(f"{where}: {msg}")
    more = f" (and {len(parts) - 5} more)" if len(parts) > 5 else ""
    parts = parts[:5]
    code = "missing_field" if first["type"] == "missing" else "invalid_value"
    return APIError(422, "; ".join(parts) + more, param=param, code=code)
