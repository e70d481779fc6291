"""Multi-file atomic snapshots of a directory: generation-numbered files named by one manifest.

A snapshot is a set of files (``.npy`` arrays, JSON documents, sub-directories) written under new,
generation-numbered names (``vectors-000007.npy``) that nothing refers to yet. Only when all are
written and synced is ``manifest.json``, which names them, replaced atomically (temp file +
rename, ``embedspec.storage.write_json``). Readers follow the manifest, so they see the previous
snapshot or the new one, never a mix; a crash at any point leaves the previous snapshot intact.
Files of other generations are removed after the swap (and leftovers of a crashed write on the
next successful one). One writer per directory at a time.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbedspecError
from ..locking import WRITER_FILE
from ..storage import read_json, write_json

MANIFEST = "manifest.json"


class SnapshotChanged(EmbedspecError, FileNotFoundError):
    """A file the manifest named is gone: a writer replaced the snapshot while it was being read."""

_GENERATION_FILE = re.compile(r"^[a-z_]+-(\d{6,})(\.npy|\.json)?$")
_TEMP_FILE = re.compile(r"^\..+\.tmp$")


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of ``directory``, or None when no snapshot was ever completed there."""
    path = Path(directory) / MANIFEST
    return read_json(path) if path.is_file() else None


def foreign_entries(directory: str | os.PathLike[str]) -> list[str]:
    """Names in ``directory`` that no snapshot writes (a sign it belongs to something else)."""
    path = Path(directory)
    if not path.is_dir():
        return []
    return sorted(
        p.name
        for p in path.iterdir()
        if p.name not in (MANIFEST, WRITER_FILE) and not _GENERATION_FILE.match(p.name) and not _TEMP_FILE.match(p.name)
    )


def _write_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())


def _sync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # platforms without directory handles (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_snapshot(
    directory: str | os.PathLike[str],
    generation: int,
    *,
    arrays: Mapping[str, np.ndarray] = {},
    documents: Mapping[str, Any] = {},
    subdirs: Mapping[str, Callable[[Path], Any]] = {},
    meta: Mapping[str, Any] = {},
) -> dict[str, Any]:
    """Write generation ``generation`` and switch the manifest to it; return the manifest."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    tag = f"{generation:06d}"
    files: dict[str, str] = {}
    for name, array in arrays.items():
        files[name] = f"{name}-{tag}.npy"
        _write_array(root / files[name], array)
    for name, doc in documents.items():
        files[name] = f"{name}-{tag}.json"
        write_json(root / files[name], doc)
    for name, writer in subdirs.items():
        files[name] = f"{name}-{tag}"
        target = root / files[name]
        if target.exists():  # a leftover of a crashed attempt at this generation
            shutil.rmtree(target)
        writer(target)
    _sync_directory(root)
    manifest = {**meta, "generation": generation, "files": files}
    write_json(root / MANIFEST, manifest)  # the atomic switch
    _sync_directory(root)
    remove_stale(root, keep=set(files.values()))
    return manifest


def remove_stale(directory: Path, keep: set[str]) -> None:
    """Delete generation files and temp files of ``directory`` not named in ``keep``."""
    for entry in directory.iterdir():
        if entry.name in keep or entry.name == MANIFEST:
            continue
        if _GENERATION_FILE.match(entry.name) or _TEMP_FILE.match(entry.name):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def snapshot_file(directory: str | os.PathLike[str], manifest: Mapping[str, Any], name: str) -> Path | None:
    """Path of snapshot entry ``name``, None when the snapshot has none; errors when it is missing."""
    filename = manifest.get("files", {}).get(name)
    if filename is None:
        return None
    path = Path(directory) / filename
    if not path.exists():
        if read_manifest(directory) != manifest:
            raise SnapshotChanged(f"the snapshot at {directory} changed while it was read")
        raise EmbedspecError(
            f"snapshot {Path(directory) / MANIFEST} names {filename}, which is missing: "
            "the directory was modified outside embedspec"
        )
    return path


def load_array(path: Path) -> np.ndarray:
    return np.load(path, allow_pickle=False)
