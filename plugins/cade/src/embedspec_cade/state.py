"""A trained ``CadeModel`` on disk, without pickle.

``cade.json`` (format, settings, slice names and files, compass fingerprint, training figures),
``compass.npz`` (``words``, ``counts``, ``vectors``, ``context``) and one ``slice-<i>.npz`` per slice
(``compass_ids``, ``counts``, ``vectors``, ``compass_fingerprint``). A directory is written beside
the target and swapped in whole, so a failed save leaves the previous state intact; a directory
holding anything but a CADE state is never overwritten.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from embedspec.storage import read_json, read_npz, write_json, write_npz
from pydantic import ValidationError

from .errors import StateError
from .settings import CadeSettings
from .spaces import COMPASS, SliceVectors

MANIFEST = "cade.json"
FORMAT = "embedspec-cade"
VERSION = 1


def fingerprint(context: np.ndarray) -> str:
    """Short sha256 of the compass context matrix: which compass a slice was trained against."""
    return hashlib.sha256(np.ascontiguousarray(context, dtype=np.float32).tobytes()).hexdigest()[:16]


def is_state(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def manifest_slices(path: Path) -> list[str] | None:
    """Slice names listed by the manifest at ``path`` (cheap: no arrays read); None if unreadable."""
    try:
        meta = read_json(path / MANIFEST)
        return [str(e["name"]) for e in meta["slices"]]
    except Exception:  # noqa: BLE001 - any unreadable manifest is reported by load_state
        return None


def check_state_field(state: str | None, slices: dict[str, str | None]) -> None:
    """``ResourceError`` located at ``state`` or at the slice field when the CADE state lacks them."""
    from embedspec.errors import ResourceError

    from .spaces import COMPASS

    if state is None:
        return
    path = Path(state)
    if not path.is_dir() or not is_state(path):
        raise ResourceError(f"{state} is not a CADE state directory (train one with `embedspec cade train`)",
                            field="state")
    names = manifest_slices(path)
    if names is None:
        raise ResourceError(f"{path / MANIFEST} is unreadable", field="state")
    for field, name in slices.items():
        if name is not None and name != COMPASS and name not in names:
            raise ResourceError(f"unknown slice {name!r}; the CADE state at {state} has "
                                f"{', '.join(map(repr, names + [COMPASS]))}", field=field)


def save_state(model: Any, path: Path) -> Path:
    """Write a fitted ``CadeModel`` to directory ``path``, swapped in whole (see the module docstring)."""
    if path.exists() and not path.is_dir():
        raise StateError(f"cannot save the CADE model to {path}: it is a file")
    if path.is_dir() and any(path.iterdir()) and not is_state(path):
        raise StateError(f"cannot save the CADE model to {path}: the directory holds other files (not a CADE state)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        _write(model, tmp)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            old.rmdir()
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _write(model: Any, path: Path) -> None:
    fp = model.fingerprint
    compass = model.compass_
    write_npz(path / "compass.npz", {
        "words": np.asarray(compass.words, dtype=str), "counts": compass.counts,
        "vectors": compass.vectors, "context": model.context_,
    })
    compass_digest = _digest(path / "compass.npz")
    entries = []
    for i, (name, sv) in enumerate(model.slices_.items()):
        file = f"slice-{i}.npz"
        write_npz(path / file, {
            "compass_ids": model.compass_ids_[name], "counts": sv.counts, "vectors": sv.vectors,
            "compass_fingerprint": np.asarray(fp),
        })
        entries.append({"name": name, "file": file, "vocab_size": len(sv), "sha256": _digest(path / file)})
    write_json(path / MANIFEST, {
        "format": FORMAT, "version": VERSION, "settings": model.settings.model_dump(),
        "compass": {"file": "compass.npz", "vocab_size": len(compass), "fingerprint": fp,
                    "sha256": compass_digest},
        "slices": entries, "reports": model.reports_,
    })


def load_state(path: Path) -> tuple[CadeSettings, dict[str, Any]]:
    """The settings and learned attributes (``compass_``, ``context_``, ``slices_``, ``compass_ids_``,
    ``reports_``) of the model saved at ``path``; ``StateError`` says what is wrong with it."""
    if not path.is_dir():
        raise StateError(f"CADE state directory {path} does not exist (train one with `embedspec cade train`)")
    if not is_state(path):
        raise StateError(f"{path} is not a CADE state: {MANIFEST} is missing")
    try:
        meta = read_json(path / MANIFEST)
    except ValueError as exc:  # malformed JSON or text
        raise StateError(f"{path / MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise StateError(f"{path / MANIFEST} is not an {FORMAT} manifest")
    if meta.get("version") != VERSION:
        raise StateError(f"{path / MANIFEST} has format version {meta.get('version')!r}; this release reads {VERSION}")
    try:
        settings = CadeSettings(**meta["settings"])
    except (KeyError, TypeError, ValidationError) as exc:
        raise StateError(f"{path / MANIFEST}: invalid settings: {exc}") from None
    c = _arrays(path, meta.get("compass", {}).get("file", ""), ("words", "counts", "vectors", "context"))
    V = len(c["words"])
    for key in ("counts", "vectors", "context"):
        if c[key].shape[0] != V or (key != "counts" and c[key].shape != (V, settings.dim)):
            raise StateError(
                f"{path / 'compass.npz'}: {key} has shape {c[key].shape}, expected {V} rows"
                + ("" if key == "counts" else f" of dimension {settings.dim}")
            )
    compass = SliceVectors(COMPASS, [str(w) for w in c["words"]], c["counts"], c["vectors"])
    context = np.ascontiguousarray(c["context"], dtype=np.float32)
    fp = fingerprint(context)
    if meta["compass"].get("fingerprint") != fp:
        raise StateError(f"{path / 'compass.npz'}: the context matrix does not match the fingerprint in {MANIFEST}")
    _check_digest(path, meta["compass"])
    slices: dict[str, SliceVectors] = {}
    compass_ids: dict[str, np.ndarray] = {}
    entries = meta.get("slices")
    if not isinstance(entries, list) or not entries:
        raise StateError(f"{path / MANIFEST} lists no slices")
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise StateError(f"{path / MANIFEST}: invalid slice entry {entry!r}")
        s = _arrays(path, entry.get("file", ""), ("compass_ids", "counts", "vectors", "compass_fingerprint"), name)
        if str(s["compass_fingerprint"]) != fp:
            raise StateError(
                f"slice {name!r} ({entry['file']}) was trained against another compass "
                f"(fingerprint {s['compass_fingerprint']}, this state's compass is {fp})"
            )
        ids = s["compass_ids"].astype(np.int64)
        if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= V)) or len(np.unique(ids)) != len(ids):
            raise StateError(f"slice {name!r} ({entry['file']}): compass_ids are not distinct rows of the compass")
        if s["vectors"].shape != (len(ids), settings.dim) or s["counts"].shape != (len(ids),):
            raise StateError(
                f"slice {name!r} ({entry['file']}): vectors {s['vectors'].shape} and counts {s['counts'].shape} "
                f"do not match {len(ids)} words of dimension {settings.dim}"
            )
        _check_digest(path, entry, name)
        words = [compass.words[i] for i in ids]
        slices[name] = SliceVectors(name, words, s["counts"], s["vectors"])
        compass_ids[name] = ids.astype(np.int32)
    learned = {"compass_": compass, "context_": context, "slices_": slices, "compass_ids_": compass_ids,
               "reports_": meta.get("reports", {})}
    return settings, learned


def _digest(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def _check_digest(path: Path, entry: dict[str, Any], slice_name: str | None = None) -> None:
    where = f"slice {slice_name!r}: " if slice_name else ""
    if entry.get("sha256") != _digest(path / entry["file"]):
        raise StateError(f"{where}{path / entry['file']} changed since it was saved (its sha256 differs from {MANIFEST})")


def _arrays(path: Path, file: str, keys: tuple[str, ...], slice_name: str | None = None) -> dict[str, np.ndarray]:
    where = f"slice {slice_name!r}: " if slice_name else ""
    if not isinstance(file, str) or not file or "/" in file or "\\" in file or file.startswith("."):
        raise StateError(f"{where}{path / MANIFEST} names an invalid file {file!r}")
    target = path / file
    if not target.is_file():
        raise StateError(f"{where}{target} is missing: the CADE state at {path} is incomplete")
    try:
        arrays = read_npz(target)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise StateError(f"{where}{target} is not a readable .npz file: {exc}") from None
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise StateError(f"{where}{target} lacks the array(s) {', '.join(missing)}")
    return arrays
