"""The YAML spec: loading, ``${ENV}`` interpolation, two-phase validation.

Reading is bounded and safe (``embedspec.spec_source``: size, UTF-8, alias expansion, depth, duplicate
keys). Phase 1 checks the structure (``version: 1``, the blocks and their ``type``); phase 2 validates
each block's fields with the pydantic config model its plugin registered. Every problem is collected as
a ``SpecIssue`` that names the path (``index.path``), the component type and plugin, and the YAML line;
``SpecError`` carries them all, sorted by line. Values substituted from the environment are remembered
(``BlockSpec.raw`` keeps the ``${VAR}`` text) and never echoed in an error message.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from .errors import SpecError, UnknownComponentError
from .hybrid import FusionConfig
from .plugins import load_plugins
from .protocols import COMPONENT_KINDS
from .query import VECTOR_NAME
from .registry import Registration, component_slots, path_fields
from .secrets import ENV_REFERENCES, Secret
from .spec_source import MAX_DEPTH, Positions, SpecIssue, decode_spec, parse_yaml, read_spec_file, spec_error

__all__ = [
    "BLOCKS", "SPEC_VERSION", "BlockSpec", "Spec", "SpecIssue", "env_references", "interpolate", "load_spec", "parse_yaml",
    "spec_error", "validate",
]

SPEC_VERSION = 1
BLOCKS = {k.spec_key: k.name for k in COMPONENT_KINDS}  # spec key -> component kind
#: Sections the pipeline does not build: ``serve`` holds server settings (``embedspec.serve.config``).
SECTIONS = ("serve",)
#: A hybrid spec: named encoders (instead of `encoder`) and the fusion of their vectors (``embedspec.hybrid``).
HYBRID = ("encoders", "fusion")
TOP_LEVEL = ("version", *BLOCKS, *HYBRID, *SECTIONS)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class BlockSpec:
    """A validated component block."""

    kind: str
    path: str
    registration: Registration
    config: BaseModel
    raw: dict[str, Any] = field(repr=False)  # as written: a literal secret must not show in repr()
    positions: Positions = field(default_factory=dict)
    #: path fields resolved against the spec file's folder: field -> the value as written
    resolved: dict[str, str] = field(default_factory=dict)
    #: nested component blocks (``ComponentSlot`` fields), validated like any block
    children: dict[str, BlockSpec] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.registration.name

    def position(self, path: str) -> tuple[int | None, int | None]:
        """(line, column) of ``path`` (or its closest located parent) in the spec file."""
        return _at(self.positions, path)

    def create(self) -> Any:
        return self.registration.create(self.config)


@dataclass
class Spec:
    """A validated spec: the blocks, the source file, the raw (uninterpolated) mapping."""

    encoder: BlockSpec | None  # None in a hybrid spec (``encoders``)
    index: BlockSpec
    aligner: BlockSpec | None = None
    compressors: list[BlockSpec] = field(default_factory=list)
    version: int = SPEC_VERSION
    source: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The ``serve:`` section as written (validated by ``embedspec.serve.config`` when serving).
    serve: dict[str, Any] | None = field(default=None, repr=False)
    #: Hybrid specs: the named encoders (``encoders.<name>``) and the ``fusion`` block.
    encoders: dict[str, BlockSpec] = field(default_factory=dict)
    fusion: FusionConfig | None = None

    def blocks(self) -> list[BlockSpec]:
        out = [self.encoder] if self.encoder is not None else list(self.encoders.values())
        if self.aligner:
            out.append(self.aligner)
        return [*out, *self.compressors, self.index]


# ---- ${ENV} interpolation ----------------------------------------------------------------------
def interpolate(
    value: Any,
    path: str,
    issues: list[SpecIssue],
    pos: Mapping[str, tuple[int, int]],
    substituted: dict[str, str] | None = None,
    depth: int = 0,
) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string; a missing variable is an issue.

    ``substituted`` collects {interpolated string: the text it came from} for error messages and secrets.
    """
    if depth > MAX_DEPTH:
        issues.append(SpecIssue(path, f"nested deeper than {MAX_DEPTH} levels", *_at(pos, path)))
        return value
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            issues.append(SpecIssue(path, f"environment variable {name} is not set", *_at(pos, path)))
            return m.group(0)

        out = _ENV.sub(sub, value)
        if substituted is not None and out != value:
            substituted[out] = value
        return out
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}", issues, pos, substituted, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", issues, pos, substituted, depth + 1) for i, v in enumerate(value)]
    return value


def env_references(value: Any, depth: int = 0) -> list[str]:
    """The ``${VAR}`` texts in ``value`` (its strings, recursively), in order."""
    if isinstance(value, str):
        return [m.group(0) for m in _ENV.finditer(value)]
    if depth > MAX_DEPTH:
        return []
    if isinstance(value, dict):
        return [r for v in value.values() for r in env_references(v, depth + 1)]
    if isinstance(value, list):
        return [r for v in value for r in env_references(v, depth + 1)]
    return []


def _at(pos: Mapping[str, tuple[int, int]], path: str) -> tuple[int | None, int | None]:
    while path:
        if path in pos:
            return pos[path]
        path = path[: max(path.rfind("."), path.rfind("["), 0)]
    return pos.get("", (None, None))


# ---- validation --------------------------------------------------------------------------------
_MISSING = object()


def _loc_path(base: str, loc: tuple[Any, ...]) -> str:
    path = base
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _raw_at(raw: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(raw, dict) and part in raw:
            raw = raw[part]
        elif isinstance(raw, list) and isinstance(part, int) and 0 <= part < len(raw):
            raw = raw[part]
        else:
            return _MISSING
    return raw


def _is_secret(model: type[BaseModel], name: Any) -> bool:
    field = model.model_fields.get(name) if isinstance(name, str) else None
    return field is not None and (field.annotation is Secret or Secret in get_args(field.annotation))


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clip(path: str, limit: int = 120) -> str:
    """A path as shown in a message (a key of a megabyte is not printed whole)."""
    return path if len(path) <= limit else path[: limit - 3] + "..."


def _issue_message(err: Any, model: type[BaseModel], type_name: str, raw: dict[str, Any],
                   substituted: Mapping[str, str]) -> str:
    """The message of one pydantic error, never echoing a value that came from the environment."""
    loc = tuple(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        known = list(model.model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        msg = f"unknown field for {type_name}" + (f"; did you mean {close[0]!r}?" if close else "")
        return msg + f" (fields: {', '.join(known) or 'none'})"
    if err["type"] in ("value_error", "assertion_error"):  # custom validators may quote their input
        for value, text in sorted(substituted.items(), key=lambda kv: -len(kv[0])):
            if len(value) >= 4:
                msg = msg.replace(value, text)
    if err["type"] == "missing" or not loc or "input" not in err:
        return msg
    references = env_references(_raw_at(raw, loc))
    if references:
        return msg + f" (value from {', '.join(dict.fromkeys(references))})"
    if _is_secret(model, loc[0]):
        return msg + " (the value of a secret is not shown)"
    return msg + f" (got {_short(err['input'])})"


def _validate_block(
    raw: Any, path: str, kind: str, pos: Mapping[str, tuple[int, int]], issues: list[SpecIssue],
    base: Path | None = None,
) -> BlockSpec | None:
    if not isinstance(raw, dict):
        got = "nothing" if raw is None else type(raw).__name__
        issues.append(SpecIssue(path, f"must be a mapping with a 'type' key, got {got}", *_at(pos, path)))
        return None
    type_name = raw.get("type")
    if "type" not in raw or type_name is None or type_name == "":
        issues.append(SpecIssue(f"{path}.type", f"missing the {kind} 'type' (a registered {kind} name)",
                                *_at(pos, f"{path}.type")))
        return None
    if not isinstance(type_name, str):
        issues.append(SpecIssue(f"{path}.type", f"the {kind} 'type' is a name (a string), not "
                                f"{type(type_name).__name__}", *_at(pos, f"{path}.type")))
        return None
    guessed = None  # an unknown type: its fields are still checked against the closest known type
    try:
        reg = load_plugins().get(kind, type_name)
    except UnknownComponentError as exc:
        issues.append(SpecIssue(f"{path}.type", str(exc), *_at(pos, f"{path}.type")))
        if not exc.suggestions:
            return None
        guessed = type_name = exc.suggestions[0]
        reg = load_plugins().get(kind, guessed)
        issues = _GuessedIssues(issues, guessed)
    block_issues: list[SpecIssue] = []
    substituted: dict[str, str] = {}
    fields_raw = {k: v for k, v in raw.items() if k != "type"}
    fields = interpolate(fields_raw, path, block_issues, pos, substituted)
    for issue in block_issues:
        issues.append(SpecIssue(issue.path, issue.message, issue.line, issue.column, type_name, reg.plugin))
    if block_issues:
        return None
    non_text = [k for k in fields if not isinstance(k, str)]
    for key in non_text:
        issues.append(SpecIssue(f"{path}.{_clip(str(key))}", f"a field name is text, not {type(key).__name__}",
                                *_at(pos, f"{path}.{key}"), type_name, reg.plugin))
    if non_text:
        return None
    try:
        config = reg.config_model.model_validate(fields, context={ENV_REFERENCES: substituted})
    except ValidationError as exc:
        for err in exc.errors():
            where = _loc_path(path, tuple(err["loc"]))
            msg = _issue_message(err, reg.config_model, type_name, fields_raw, substituted)
            issues.append(SpecIssue(_clip(where), msg, *_at(pos, where), type_name, reg.plugin))
        return None
    if guessed is not None:
        return None
    # A value that starts with ${VAR} is used as the environment gives it; one that starts with a relative
    # path ("../runs/index-${CORPUS}") resolves against the spec's folder like any other.
    literal = {k for k, v in fields_raw.items() if not (isinstance(v, str) and v.lstrip().startswith("${"))
               and (isinstance(v, str) or not env_references(v))}
    config, resolved = resolve_paths(config, base, literal)
    children: dict[str, BlockSpec] = {}
    for name, slot_kind in component_slots(reg.config_model).items():  # nested blocks: validated here too
        value = fields_raw.get(name)
        if value is None:
            continue
        child = _validate_block(value, f"{path}.{name}", slot_kind, pos, issues, base)
        if child is None:
            return None
        children[name] = child
    return BlockSpec(kind=kind, path=path, registration=reg, config=config, raw=raw, positions=dict(pos),
                     resolved=resolved, children=children)


def resolve_paths(config: BaseModel, base: Path | None, only: set[str] | None = None
                  ) -> tuple[BaseModel, dict[str, str]]:
    """``config`` with its relative ``PathField`` values (among ``only``) joined to ``base`` (the spec
    file's folder) and ``~`` expanded; returns it with {field: value as written} of what changed."""
    changed: dict[str, str] = {}
    update: dict[str, str] = {}
    for name in path_fields(type(config)):
        if only is not None and name not in only:
            continue
        value = getattr(config, name)
        if not isinstance(value, str) or not value or "://" in value:
            continue
        full = os.path.expanduser(value)
        if not os.path.isabs(full) and base is not None:
            full = os.path.normpath(base / full)
        if full != value:
            changed[name], update[name] = value, full
    return (config.model_copy(update=update) if update else config), changed


class _GuessedIssues(list):  # type: ignore[type-arg]
    """Issues found by checking a block of unknown type against the closest known type: said as such."""

    def __init__(self, target: list[SpecIssue], guessed: str) -> None:
        super().__init__()
        self.target, self.guessed = target, guessed

    def append(self, issue: SpecIssue) -> None:  # type: ignore[override]
        note = f" (checked against {self.guessed!r}, the closest known type)"
        self.target.append(SpecIssue(issue.path, issue.message + note, issue.line, issue.column,
                                     issue.component, issue.plugin))


def _check_version(data: dict[Any, Any], pos: Mapping[str, tuple[int, int]], issues: list[SpecIssue]) -> None:
    if "version" not in data:
        issues.append(SpecIssue("version", f"the spec needs `version: {SPEC_VERSION}`", *_at(pos, "")))
        return
    version = data["version"]
    if type(version) is not int or version != SPEC_VERSION:  # not True, 1.0 or "1"
        got = f"{_short(version)} ({type(version).__name__})" if version is not None else "nothing"
        issues.append(SpecIssue("version", f"must be the integer {SPEC_VERSION}, got {got}", *_at(pos, "version")))


def validate(data: Any, pos: Mapping[str, tuple[int, int]] | None = None, source: str | None = None) -> Spec:
    """Validate a parsed spec mapping; raise ``SpecError`` listing every problem found."""
    pos = pos or {}
    issues: list[SpecIssue] = []
    base = Path(source).resolve().parent if source else None  # relative paths: against the spec's folder
    if not isinstance(data, dict):
        kinds = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
        what = "empty" if data is None else kinds.get(type(data), f"a {type(data).__name__}")
        message = f"a spec is a mapping with version, encoder and index; this one is {what}"
        raise spec_error([SpecIssue("<root>", message, *_at(pos, ""))], source)
    for key in data:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(str(key), TOP_LEVEL, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (expected: {', '.join(TOP_LEVEL)})"
            issues.append(SpecIssue(_clip(str(key)), f"unknown top-level key{hint}", *_at(pos, str(key))))
    _check_version(data, pos, issues)
    blocks: dict[str, Any] = {}
    hybrid = data.get("encoders") is not None
    for name in ("encoder", "index"):
        if name == "encoder" and hybrid:
            if "encoder" in data:
                issues.append(SpecIssue("encoder", "give either `encoder:` (one encoder) or `encoders:` (named "
                                        "encoders with a fusion block), not both", *_at(pos, "encoder")))
            continue
        if name not in data:
            issues.append(SpecIssue(name, f"the spec needs an '{name}' block", None, None))
        else:
            blocks[name] = _validate_block(data[name], name, BLOCKS[name], pos, issues, base)
    if data.get("aligner") is not None:
        blocks["aligner"] = _validate_block(data["aligner"], "aligner", "aligner", pos, issues, base)
    compressors = data.get("compressors")
    if compressors is None:
        compressors = []
    elif not isinstance(compressors, list):
        issues.append(SpecIssue("compressors", "must be a list of compressor blocks", *_at(pos, "compressors")))
        compressors = []
    comp_blocks = [
        _validate_block(c, f"compressors[{i}]", "compressor", pos, issues, base) for i, c in enumerate(compressors)
    ]
    encoders: dict[str, BlockSpec] = {}
    fusion: FusionConfig | None = None
    if hybrid:
        encoders = _validate_encoders(data, pos, issues, base)
        fusion = _validate_fusion(data, list(encoders) or _names(data["encoders"]), pos, issues)
    elif data.get("fusion") is not None:
        issues.append(SpecIssue("fusion", "a fusion block combines the vectors of several encoders: name them "
                                "under `encoders:` (see docs/hybrid.md)", *_at(pos, "fusion")))
    serve = data.get("serve")
    if serve is not None and not isinstance(serve, dict):
        issues.append(SpecIssue("serve", "must be a mapping of server settings (see docs/serve.md)", *_at(pos, "serve")))
    if issues:
        raise spec_error(issues, source)
    return Spec(
        encoder=blocks.get("encoder"),
        encoders=encoders,
        fusion=fusion,
        index=blocks["index"],
        aligner=blocks.get("aligner"),
        compressors=[b for b in comp_blocks if b is not None],
        source=source,
        raw=data,
        serve=serve if isinstance(serve, dict) else None,
    )


def _names(encoders: Any) -> list[str]:
    return [str(n) for n in encoders] if isinstance(encoders, dict) else []


def _validate_encoders(data: dict[Any, Any], pos: Mapping[str, tuple[int, int]], issues: list[SpecIssue],
                       base: Path | None) -> dict[str, BlockSpec]:
    """The ``encoders`` mapping of a hybrid spec: two or more named encoder blocks, no compressor or aligner."""
    raw = data["encoders"]
    if not isinstance(raw, dict) or len(raw) < 2:
        issues.append(SpecIssue("encoders", "must map two or more vector names to encoder blocks (for one encoder, "
                                "write `encoder:`)", *_at(pos, "encoders")))
        return {}
    out: dict[str, BlockSpec] = {}
    for name, block in raw.items():
        where = f"encoders.{_clip(str(name))}"
        if not isinstance(name, str) or not VECTOR_NAME.fullmatch(name):
            issues.append(SpecIssue(where, "a vector name is lower-case letters, digits and underscores, starting "
                                    "with a letter (at most 32 characters)", *_at(pos, where)))
            continue
        built = _validate_block(block, where, "encoder", pos, issues, base)
        if built is not None:
            out[name] = built
    for key in ("compressors", "aligner"):
        if data.get(key):
            issues.append(SpecIssue(key, f"a spec with `encoders:` takes no {key} (they apply to one encoder's "
                                    "dense vectors)", *_at(pos, key)))
    if "fusion" not in data:
        issues.append(SpecIssue("fusion", "a spec with several encoders needs a `fusion` block saying how to "
                                "combine their results (e.g. `fusion: {method: rrf}`)", *_at(pos, "encoders")))
    return out


def _validate_fusion(data: dict[Any, Any], names: list[str], pos: Mapping[str, tuple[int, int]],
                     issues: list[SpecIssue]) -> FusionConfig | None:
    raw = data.get("fusion")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        issues.append(SpecIssue("fusion", "must be a mapping (method, k, limit, weights)", *_at(pos, "fusion")))
        return None
    try:
        fusion = FusionConfig.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            where = _loc_path("fusion", tuple(err["loc"]))
            msg = _issue_message(err, FusionConfig, "fusion", raw, {})
            issues.append(SpecIssue(_clip(where), msg, *_at(pos, where)))
        return None
    for name in fusion.weights or {}:
        if name not in names:
            where = f"fusion.weights.{_clip(name)}"
            issues.append(SpecIssue(where, f"names vector {name!r}, which the index lacks: its vectors are the "
                                    f"spec's encoders ({', '.join(names) or 'none'})", *_at(pos, where)))
    return fusion


def load_spec(source: str | bytes | os.PathLike[str] | Mapping[str, Any] | Spec) -> Spec:
    """Read and validate a spec; return a ``Spec`` as is.

    ``source`` is a path (an ``os.PathLike``, or a string without a line break, ending in .yaml or
    .yml), YAML text (a string with line breaks, or bytes of UTF-8), or an already parsed mapping.
    """
    if isinstance(source, Spec):
        return source
    if isinstance(source, Mapping):
        return validate(dict(source))
    label: str | None = None
    if isinstance(source, (bytes, bytearray)):
        text = decode_spec(bytes(source))
    elif isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and "\r" not in source):
        if not str(source).strip():
            raise SpecError("the spec is an empty string: give a path to a .yaml/.yml file or YAML text",
                            [SpecIssue("<file>", "the spec is an empty string")])
        label = str(source)
        text = read_spec_file(source)
    elif isinstance(source, str):
        text = source
    else:
        raise SpecError(f"a spec is a path, YAML text, a mapping or a Spec, not {type(source).__name__}",
                        [SpecIssue("<root>", f"unsupported spec type {type(source).__name__}")])
    data, pos = parse_yaml(text, label)
    return validate(data, pos, label)
