"""The YAML spec: parsing (``yaml.safe_load`` only), ``${ENV}`` interpolation, two-phase validation.

Phase 1 checks the structure (``version``, the blocks and their ``type``); phase 2 validates each
block's fields with the pydantic config model its plugin registered. Every problem is collected as a
``SpecIssue`` that names the path (``index.path``), the component type and plugin, and the YAML line;
``SpecError`` carries them all.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .errors import SpecError, UnknownComponentError
from .plugins import load_plugins
from .protocols import COMPONENT_KINDS
from .registry import Registration

SPEC_VERSION = 1
BLOCKS = {k.spec_key: k.name for k in COMPONENT_KINDS}  # spec key -> component kind
TOP_LEVEL = ("version", *BLOCKS)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class SpecIssue:
    """One located problem in a spec."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    component: str | None = None
    plugin: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        what = f" ({self.component} from plugin {self.plugin})" if self.component and self.plugin else ""
        return f"{where}{self.path}{what}: {self.message}"


@dataclass
class BlockSpec:
    """A validated component block."""

    kind: str
    path: str
    registration: Registration
    config: BaseModel
    raw: dict[str, Any]
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)

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

    encoder: BlockSpec
    index: BlockSpec
    aligner: BlockSpec | None = None
    compressors: list[BlockSpec] = field(default_factory=list)
    version: int = SPEC_VERSION
    source: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def blocks(self) -> list[BlockSpec]:
        out = [self.encoder]
        if self.aligner:
            out.append(self.aligner)
        return [*out, *self.compressors, self.index]


# ---- YAML with line numbers --------------------------------------------------------------------
def _positions(node: yaml.Node, path: str, out: dict[str, tuple[int, int]]) -> None:
    out[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            child = f"{path}.{name}" if path else str(name)
            out[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
            if not isinstance(value, yaml.ScalarNode):
                _positions(value, child, out)
                out[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _positions(item, f"{path}[{i}]", out)


def parse_yaml(text: str, source: str | None = None) -> tuple[Any, dict[str, tuple[int, int]]]:
    """Parse YAML safely; return (data, {dotted path: (line, column)})."""
    label = source or "<spec>"
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = getattr(exc, "problem", None) or str(exc)
        issue = SpecIssue("<yaml>", f"YAML syntax error: {problem}", line, col)
        raise SpecError(f"{label}: line {line}, column {col}: YAML syntax error: {problem}", [issue]) from None
    positions: dict[str, tuple[int, int]] = {}
    if node is not None:
        _positions(node, "", positions)
    return data, positions


# ---- ${ENV} interpolation ----------------------------------------------------------------------
def interpolate(value: Any, path: str, issues: list[SpecIssue], pos: Mapping[str, tuple[int, int]]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string; a missing variable is an issue."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            issues.append(SpecIssue(path, f"environment variable {name} is not set", *_at(pos, path)))
            return m.group(0)

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, f"{path}.{k}", issues, pos) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, f"{path}[{i}]", issues, pos) for i, v in enumerate(value)]
    return value


def _at(pos: Mapping[str, tuple[int, int]], path: str) -> tuple[int | None, int | None]:
    while path:
        if path in pos:
            return pos[path]
        path = path.rsplit(".", 1)[0] if "." in path else (path.rsplit("[", 1)[0] if "[" in path else "")
    return (None, None)


# ---- validation --------------------------------------------------------------------------------
def _loc_path(base: str, loc: tuple[Any, ...]) -> str:
    path = base
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _validate_block(
    raw: Any, path: str, kind: str, pos: Mapping[str, tuple[int, int]], issues: list[SpecIssue]
) -> BlockSpec | None:
    if not isinstance(raw, dict):
        issues.append(SpecIssue(path, f"must be a mapping with a 'type' key, got {type(raw).__name__}", *_at(pos, path)))
        return None
    type_name = raw.get("type")
    if not isinstance(type_name, str) or not type_name:
        issues.append(SpecIssue(f"{path}.type", f"missing the {kind} 'type' (a registered {kind} name)", *_at(pos, path)))
        return None
    try:
        reg = load_plugins().get(kind, type_name)
    except UnknownComponentError as exc:
        issues.append(SpecIssue(f"{path}.type", str(exc), *_at(pos, f"{path}.type")))
        return None
    block_issues: list[SpecIssue] = []
    fields = interpolate({k: v for k, v in raw.items() if k != "type"}, path, block_issues, pos)
    for issue in block_issues:
        issues.append(SpecIssue(issue.path, issue.message, issue.line, issue.column, type_name, reg.plugin))
    if block_issues:
        return None
    try:
        config = reg.config_model.model_validate(fields)
    except ValidationError as exc:
        for err in exc.errors():
            where = _loc_path(path, tuple(err["loc"]))
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                known = list(reg.config_model.model_fields)
                close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
                msg = f"unknown field for {type_name}" + (f"; did you mean {close[0]!r}?" if close else "")
                msg += f" (fields: {', '.join(known) or 'none'})"
            elif "input" in err and err["type"] != "missing":
                msg += f" (got {err['input']!r})"
            issues.append(SpecIssue(where, msg, *_at(pos, where), type_name, reg.plugin))
        return None
    return BlockSpec(kind=kind, path=path, registration=reg, config=config, raw=raw, positions=pos)


def validate(data: Any, pos: Mapping[str, tuple[int, int]] | None = None, source: str | None = None) -> Spec:
    """Validate a parsed spec mapping; raise ``SpecError`` listing every problem found."""
    pos = pos or {}
    issues: list[SpecIssue] = []
    if not isinstance(data, dict):
        raise SpecError(
            f"{source or '<spec>'}: a spec is a mapping with version, encoder and index",
            [SpecIssue("<root>", "a spec is a mapping with version, encoder and index")],
        )
    for key in data:
        if key not in TOP_LEVEL:
            close = difflib.get_close_matches(str(key), TOP_LEVEL, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (expected: {', '.join(TOP_LEVEL)})"
            issues.append(SpecIssue(str(key), f"unknown top-level key{hint}", *_at(pos, str(key))))
    if data.get("version") != SPEC_VERSION:
        got = data.get("version", "missing")
        issues.append(SpecIssue("version", f"must be {SPEC_VERSION}, got {got!r}", *_at(pos, "version")))
    blocks: dict[str, Any] = {}
    for name in ("encoder", "index"):
        if name not in data:
            issues.append(SpecIssue(name, f"the spec needs an '{name}' block", None, None))
        else:
            blocks[name] = _validate_block(data[name], name, BLOCKS[name], pos, issues)
    if data.get("aligner") is not None:
        blocks["aligner"] = _validate_block(data["aligner"], "aligner", "aligner", pos, issues)
    compressors = data.get("compressors") or []
    if not isinstance(compressors, list):
        issues.append(SpecIssue("compressors", "must be a list of compressor blocks", *_at(pos, "compressors")))
        compressors = []
    comp_blocks = [
        _validate_block(c, f"compressors[{i}]", "compressor", pos, issues) for i, c in enumerate(compressors)
    ]
    if issues:
        raise spec_error(issues, source)
    return Spec(
        encoder=blocks["encoder"],
        index=blocks["index"],
        aligner=blocks.get("aligner"),
        compressors=[b for b in comp_blocks if b is not None],
        source=source,
        raw=data,
    )


def sorted_issues(issues: list[SpecIssue]) -> list[SpecIssue]:
    """Issues by line (then column); unlocated ones last, in the order found."""
    return sorted(issues, key=lambda i: (i.line is None, i.line or 0, i.column or 0))


def spec_error(issues: list[SpecIssue], source: str | None) -> SpecError:
    issues = sorted_issues(issues)
    label = source or "<spec>"
    lines = "\n".join(f"  - {i}" for i in issues)
    noun = "problem" if len(issues) == 1 else "problems"
    return SpecError(f"{label}: {len(issues)} {noun} in the spec:\n{lines}", issues)


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any] | Spec) -> Spec:
    """Read and validate a spec from a path, a YAML string, a mapping, or return a ``Spec`` as is."""
    if isinstance(source, Spec):
        return source
    if isinstance(source, Mapping):
        return validate(dict(source))
    text, label = str(source), None
    if isinstance(source, os.PathLike) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
        path = Path(source)
        if not path.is_file():
            raise SpecError(f"spec file {path} does not exist")
        text, label = path.read_text(encoding="utf-8"), str(path)
    data, pos = parse_yaml(text, label)
    return validate(data, pos, label)
