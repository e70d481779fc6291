"""The fingerprint of an encoder: what its vectors depend on, as 32 hex digits.

An embedding cache is keyed by it, so it must change whenever the vectors could: the encoder's spec
block (pooling, prompts, max length, normalization, Matryoshka dim, precision, seed...), the plugin
that implements it and its version, and the content of every file the block points at (the model
directory: graph, tokenizer and model card ``embedspec.json``, which holds the default pooling and
prompts; a trained encoder's ``state``). Fields that change how fast vectors are computed, not what
they are (``RUNTIME_FIELDS``), are left out. Files are identified by their SHA-256 content hash,
which the caller may memoize by (path, size, mtime, inode) so that each file version is read once.

An encoder can supply its own fingerprint with a ``fingerprint() -> str`` method.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import EmbedspecError, PluginError

#: Spec fields that do not change the vectors an encoder produces.
RUNTIME_FIELDS = frozenset({"batch_size", "threads", "device"})
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's content (hex), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path) -> Iterator[Path]:
    """``root`` itself, or every regular file under it (hidden entries skipped), in a stable order."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def _referenced_paths(encoder: Any, block: dict[str, Any]) -> dict[str, Path]:
    """Local files or directories the encoder reads, by field: path-valued fields and ``model_dir``."""
    found: dict[str, Path] = {}
    for key, value in sorted(block.items()):
        if key != "type" and isinstance(value, str) and "://" not in value and value and Path(value).exists():
            found[key] = Path(value)
    if isinstance(getattr(type(encoder), "model_dir", None), property):  # e.g. a hub model resolved locally
        directory = Path(encoder.model_dir)
        if directory.exists() and all(directory.resolve() != p.resolve() for p in found.values()):
            found["model_dir"] = directory
    return found


def model_fingerprint(encoder: Any, digest: Callable[[Path], str] = sha256_file) -> str:
    """32 hex digits identifying what ``encoder``'s vectors depend on (see the module docstring)."""
    own = getattr(encoder, "fingerprint", None)
    if callable(own):
        return str(own())
    from .plugins import describe, get_registry

    try:
        block = describe(encoder)
    except PluginError as exc:
        raise EmbedspecError(
            f"cannot fingerprint {type(encoder).__name__} for the embedding cache ({exc}); register it as a "
            "component or give it a fingerprint() method"
        ) from None
    reg = get_registry().get("encoder", block["type"])
    files: dict[str, str] = {}
    paths = _referenced_paths(encoder, block)
    for key, root in paths.items():
        for file in _files(root):
            files[f"{key}/{file.relative_to(root) if file != root else file.name}"] = digest(file)
    # A path counts by its content, not its location: a copied model directory gives the same vectors.
    kept = {k: ("<files>" if k in paths else v) for k, v in block.items() if k not in RUNTIME_FIELDS}
    described = {
        "block": kept,
        "plugin": reg.plugin,
        "distribution": reg.distribution,
        "version": reg.version,
        "files": files,
    }
    text = json.dumps(described, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
