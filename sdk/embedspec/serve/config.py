"""Server settings: defaults < the spec file's optional ``serve:`` block < environment < CLI options.

The ``serve:`` block is read and validated here, then removed before the rest of the file is
validated as a pipeline spec. API keys in it must be ``${VAR}`` references (a key written in clear
in a spec file would leak with the file); without them the keys come from ``EMBEDSPEC_API_KEY``
(reads) and ``EMBEDSPEC_WRITE_KEY`` (writes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import SpecError
from ..secrets import Secret

API_KEY_ENV = "EMBEDSPEC_API_KEY"
WRITE_KEY_ENV = "EMBEDSPEC_WRITE_KEY"
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
SECRET_FIELDS = ("api_key", "write_key")


class ServeSettings(BaseModel):
    """How the server batches, limits and guards requests (every field has a working default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str | None = Field(None, description="model id in responses and /v1/models; default: the encoder's")
    max_batch_items: int = Field(64, ge=1, description="texts per encoder batch")
    max_batch_tokens: int = Field(16384, ge=1, description="padded tokens per encoder batch (estimated, see docs)")
    max_wait_ms: float = Field(2.0, ge=0, description="how long an idle encoder waits to fill a batch")
    max_queue_items: int = Field(8192, ge=1, description="texts waiting for the encoder before 429")
    max_request_items: int = Field(2048, ge=1, description="texts per request (OpenAI's limit)")
    max_request_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="request body size before 413")
    request_timeout_s: float = Field(60.0, gt=0, description="per-request deadline (504 after it)")
    encode_batch_size: int | None = Field(
        4, ge=1, description="rows per encoder run inside a batch (sorted by length: small runs waste little "
        "padding on CPU; raise it on a GPU); null: the encoder's batch_size")
    api_key: Secret | None = Field(None, description="bearer key for reads (default $EMBEDSPEC_API_KEY)")
    write_key: Secret | None = Field(None, description="bearer key for writes (default $EMBEDSPEC_WRITE_KEY)")
    read_only: bool = Field(False, description="refuse document writes (403)")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS; empty: CORS off")
    access_log: bool = Field(True, description="one JSON line per request on logger embedspec.serve.access")


def _secret_from_reference(value: Any, where: str) -> Any:
    """A key in the spec must be ``${VAR}``; returns the variable's value (None when unset)."""
    if value is None:
        return None
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    if match is None:
        raise SpecError(f"{where}: write the key as a ${{VAR}} reference to an environment variable, "
                        "never in clear in the spec")
    name = match.group(1)
    if name not in os.environ:
        raise SpecError(f"{where}: environment variable {name} is not set")
    return os.environ[name]


def settings_from_block(block: Any, source: str = "<spec>") -> dict[str, Any]:
    """Validate a ``serve:`` block; returns the fields it sets (secrets resolved)."""
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        raise SpecError(f"{source}: serve: must be a mapping of server settings, got {type(block).__name__}")
    fields = dict(block)
    for key in SECRET_FIELDS:
        if key in fields:
            fields[key] = _secret_from_reference(fields[key], f"{source}: serve.{key}")
    try:
        ServeSettings.model_validate(fields)
    except ValidationError as exc:
        problems = "\n".join(
            f"  - serve.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            + ("" if err["loc"] and err["loc"][0] in SECRET_FIELDS else f" (got {err.get('input')!r})")
            for err in exc.errors()
        )
        raise SpecError(f"{source}: invalid serve block:\n{problems}") from None
    return fields


def split_spec(spec: Any) -> tuple[Any, dict[str, Any]]:
    """(the pipeline spec without ``serve:``, the validated ``serve:`` fields).

    A YAML path or text is parsed here (with line numbers) only when it holds a ``serve:`` block;
    otherwise it is passed on untouched.
    """
    if isinstance(spec, Mapping):
        rest = {k: v for k, v in spec.items() if k != "serve"}
        return rest, settings_from_block(spec.get("serve"))
    if not isinstance(spec, (str, os.PathLike)):
        return spec, {}  # a Spec or a Pipeline
    text, label = str(spec), None
    if isinstance(spec, os.PathLike) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
        path = Path(spec)
        if not path.is_file():
            raise SpecError(f"spec file {path} does not exist")
        text, label = path.read_text(encoding="utf-8"), str(path)
    from ..spec import parse_yaml

    data, positions = parse_yaml(text, label)
    if not isinstance(data, dict) or "serve" not in data:
        return spec, {}
    fields = settings_from_block(data.pop("serve"), label or "<spec>")
    return _validated(data, positions, label), fields


def _validated(data: dict[str, Any], positions: dict[str, tuple[int, int]], label: str | None) -> Any:
    """The pipeline spec from already-parsed YAML, keeping line numbers for its errors."""
    from ..spec import validate

    return validate(data, positions, label)


def resolve_settings(block_fields: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> ServeSettings:
    """Merge defaults < ``serve:`` block < ``EMBEDSPEC_*_KEY`` < explicit ``overrides`` (None = unset)."""
    fields = dict(block_fields)
    for key, env in (("api_key", API_KEY_ENV), ("write_key", WRITE_KEY_ENV)):
        if fields.get(key) is None and os.environ.get(env):
            fields[key] = os.environ[env]
    fields.update({k: v for k, v in (overrides or {}).items() if v is not None})
    for key in SECRET_FIELDS:  # an empty key means "no key", never "the empty string opens"
        if isinstance(fields.get(key), str) and not fields[key]:
            fields[key] = None
    try:
        return ServeSettings.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SpecError(f"invalid server setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
