"""Reading a spec that cannot hang or crash: file checks, UTF-8 text, bounded YAML, duplicate keys.

A spec file is a regular ``.yaml``/``.yml`` file of at most ``MAX_SPEC_BYTES`` of UTF-8 text. It is
parsed once, by a ``yaml.SafeLoader`` that counts nodes and nesting depth while composing (no
``RecursionError``), refuses alias expansions past ``MAX_NODES`` nodes or ``MAX_EXPANDED_CHARS``
characters (a "billion laughs" bomb fails in milliseconds) and recursive aliases, and rejects a key
given twice in one mapping naming both lines; the data is then constructed from the checked nodes. Every problem is a
``SpecIssue`` located by path and line; ``SpecError`` carries them, sorted by line.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from .errors import SpecError

#: Largest spec file (or YAML text) read, in bytes.
MAX_SPEC_BYTES = 1 << 20
#: Most YAML nodes a spec may hold, counting every expansion of an alias.
MAX_NODES = 20_000
#: Most characters of text a spec may hold once every alias is expanded.
MAX_EXPANDED_CHARS = 2 * MAX_SPEC_BYTES
#: Deepest nesting of mappings and lists.
MAX_DEPTH = 64
SPEC_SUFFIXES = (".yaml", ".yml")

Positions = dict[str, tuple[int, int]]
_MERGE = "tag:yaml.org,2002:merge"


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


def sorted_issues(issues: list[SpecIssue]) -> list[SpecIssue]:
    """Issues by line (then column); unlocated ones last, in the order found."""
    return sorted(issues, key=lambda i: (i.line is None, i.line or 0, i.column or 0))


def spec_error(issues: list[SpecIssue], source: str | None) -> SpecError:
    """One ``SpecError`` listing ``issues`` by line (issues without a line last)."""
    issues = sorted_issues(issues)
    label = source or "<spec>"
    lines = "\n".join(f"  - {i}" for i in issues)
    noun = "problem" if len(issues) == 1 else "problems"
    return SpecError(f"{label}: {len(issues)} {noun} in the spec:\n{lines}", issues)


def _fail(label: str, path: str, message: str, line: int | None = None, column: int | None = None) -> SpecError:
    where = f"line {line}, column {column}: " if line and column else (f"line {line}: " if line else "")
    return SpecError(f"{label}: {where}{message}", [SpecIssue(path, message, line, column)])


# ---- files and bytes ---------------------------------------------------------------------------
def read_spec_file(path: str | os.PathLike[str]) -> str:
    """The text of a spec file; ``SpecError`` when it is missing, not a file, too big or not UTF-8."""
    path = Path(path)
    label = str(path)
    if path.suffix.lower() not in SPEC_SUFFIXES:
        raise _fail(label, "<file>", f"a spec file's name ends in .yaml or .yml (got {path.name!r})")
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _fail(label, "<file>", f"spec file {path} does not exist") from None
    except OSError as exc:
        raise _fail(label, "<file>", f"cannot read spec file {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise _fail(label, "<file>", f"{path} is a directory, not a spec file")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(label, "<file>", f"{path} is not a regular file")
    if info.st_size > MAX_SPEC_BYTES:
        raise _fail(label, "<file>", f"the spec file is {info.st_size:,} bytes; a spec is at most {MAX_SPEC_BYTES:,}")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise _fail(label, "<file>", f"cannot read spec file {path}: {exc.strerror or exc}") from None
    return decode_spec(data, label)


def decode_spec(data: bytes, label: str = "<spec>") -> str:
    """UTF-8 text of a spec (a leading BOM dropped); binary or other encodings are a located error."""
    if len(data) > MAX_SPEC_BYTES:
        raise _fail(label, "<file>", f"the spec is {len(data):,} bytes or more; a spec is at most {MAX_SPEC_BYTES:,}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(label, "<file>", "the spec is UTF-16 text; save it as UTF-8", 1, 1)
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = _line_col(data, nul)
        raise _fail(label, "<file>", "a spec is UTF-8 text, but this holds a NUL byte (a binary file?)", line, col)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data, exc.start)
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the spec as UTF-8"
        raise _fail(label, "<file>", message, line, col) from None
    return text[1:] if text.startswith("\ufeff") else text


def _line_col(data: bytes | str, offset: int) -> tuple[int, int]:
    newline = b"\n" if isinstance(data, bytes) else "\n"
    line = data.count(newline, 0, offset) + 1  # type: ignore[arg-type]
    start = data.rfind(newline, 0, offset) + 1  # type: ignore[arg-type]
    return line, offset - start + 1


# ---- bounded YAML ------------------------------------------------------------------------------
class _LimitError(yaml.MarkedYAMLError):
    """A spec past a composition limit (nodes, depth, alias expansion)."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem=problem, problem_mark=mark)


try:  # libyaml's parser gives the events ~7x faster; the composer below stays in Python, with its limits
    from yaml._yaml import CParser

    class _SafeLoaderBase(Composer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        """``yaml.CSafeLoader`` with PyYAML's Python composer (which ``SpecLoader`` bounds)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    BYTE_OFFSETS = True  # libyaml reports reader errors at UTF-8 byte offsets
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _SafeLoaderBase = yaml.SafeLoader  # type: ignore[assignment,misc]
    BYTE_OFFSETS = False


class SpecLoader(_SafeLoaderBase):
    """A safe YAML loader that bounds the nodes and the nesting depth while it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        mark = self.peek_event().start_mark
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _LimitError(f"the spec holds more than {MAX_NODES:,} YAML nodes", mark)
        if self._depth >= MAX_DEPTH:
            raise _LimitError(f"the spec nests deeper than {MAX_DEPTH} levels", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct ``node``; a value its tag cannot take (``!!int abc``) is a located YAML error."""
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, OverflowError, LookupError) as exc:
            tag = node.tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"this is not a valid {tag} value ({type(exc).__name__})", node.start_mark
            ) from None


def _expanded_size(node: yaml.Node, memo: dict[int, tuple[int, int]], active: set[int]) -> tuple[int, int]:
    """(nodes, characters of scalars) under ``node`` once every alias is expanded.

    Stops past ``MAX_NODES`` nodes or ``MAX_EXPANDED_CHARS`` characters (an alias bomb), or at an
    alias that contains itself. Each node is measured once, so this is linear in the composed nodes.
    """
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _LimitError("a YAML alias refers to a node that contains it (a recursive structure)", node.start_mark)
    active.add(key)
    nodes, chars = 1, 0
    children: list[yaml.Node] = []
    if isinstance(node, yaml.ScalarNode):
        chars = len(node.value)
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    for child in children:
        child_nodes, child_chars = _expanded_size(child, memo, active)
        nodes, chars = nodes + child_nodes, chars + child_chars
        if nodes > MAX_NODES or chars > MAX_EXPANDED_CHARS:
            what = f"{MAX_NODES:,} nodes" if nodes > MAX_NODES else f"{MAX_EXPANDED_CHARS:,} characters"
            raise _LimitError(f"YAML aliases here expand the spec past {what} (an alias bomb?)", child.start_mark)
    active.discard(key)
    memo[key] = (nodes, chars)
    return nodes, chars


def _key_of(loader: SpecLoader, node: yaml.Node) -> tuple[Any, str]:
    """(key as constructed, its name in dotted paths) of a mapping key node.

    The name is ``str()`` of the constructed key, as validation sees it (``null: x`` is ``None``);
    a key that does not construct, or is not hashable, is compared and named by its text.
    """
    if not isinstance(node, yaml.ScalarNode):
        return (node.tag, id(node)), "?"
    if node.tag == _MERGE:
        return (node.tag, id(node)), node.value
    try:
        value = loader.construct_object(node, deep=True)
        hash(value)
    except (yaml.YAMLError, TypeError, ValueError):
        return (node.tag, node.value), node.value
    return value, value if isinstance(value, str) else str(value)


def _walk(loader: SpecLoader, node: yaml.Node, path: str, pos: Positions, issues: list[SpecIssue],
          checked: set[int]) -> None:
    """Record (line, column) per dotted path; report keys given twice in one mapping."""
    pos[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        first = id(node) not in checked
        checked.add(id(node))
        seen: dict[Any, yaml.Node] = {}
        for key, value in node.value:
            k, name = _key_of(loader, key)
            child = f"{path}.{name}" if path else name
            if first and isinstance(key, yaml.ScalarNode) and key.tag != _MERGE:
                if k in seen:
                    before, again = seen[k].start_mark.line + 1, key.start_mark.line + 1
                    shown = name if len(name) <= 60 else name[:57] + "..."
                    issues.append(SpecIssue(
                        child if len(child) <= 120 else child[:117] + "...",
                        f"key {shown!r} is given twice (line {before} and line {again}); keep one",
                        again, key.start_mark.column + 1,
                    ))
                else:
                    seen[k] = key
            if not isinstance(value, yaml.ScalarNode):
                _walk(loader, value, child, pos, issues, checked)
            pos[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(loader, item, f"{path}[{i}]", pos, issues, checked)


def parse_yaml(text: str, source: str | None = None) -> tuple[Any, Positions]:
    """Parse YAML text once, safely and within bounds; return (data, {dotted path: (line, column)})."""
    label = source or "<spec>"
    if len(text) > MAX_SPEC_BYTES:
        raise _fail(label, "<yaml>", f"the spec is {len(text):,} characters; a spec is at most {MAX_SPEC_BYTES:,}")
    pos: Positions = {}
    loader = None
    try:
        loader = SpecLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None, pos
        _expanded_size(node, {}, set())
        issues: list[SpecIssue] = []
        _walk(loader, node, "", pos, issues, set())
        if issues:
            raise spec_error(issues, source)
        data = loader.construct_document(node)
    except yaml.reader.ReaderError as exc:
        offset = len(text.encode("utf-8")[: exc.position].decode("utf-8", "ignore")) if BYTE_OFFSETS else exc.position
        line, col = _line_col(text, offset)
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise _fail(label, "<yaml>", f"the spec holds a control character (#x{char:04x}) YAML does not allow",
                    line, col) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        if context and not isinstance(exc, _LimitError):
            problem = f"{context}, {problem}"
        if isinstance(exc, _LimitError):
            raise _fail(label, "<yaml>", problem, line, col) from None
        if "maximum nesting depth" in problem:  # libyaml's own limit, met while it scans ahead
            raise _fail(label, "<yaml>", f"the spec nests deeper than {MAX_DEPTH} levels", line, col) from None
        raise _fail(label, "<yaml>", f"YAML syntax error: {problem}", line, col) from None
    finally:
        if loader is not None and hasattr(loader, "dispose"):
            loader.dispose()
    return data, pos
