"""An on-disk embedding cache shared by processes: SQLite (stdlib ``sqlite3``, WAL mode).

A vector is stored under a 16-byte key derived from (model fingerprint, role, content hash): the
fingerprint (``embedspec.fingerprint``) changes with the weights, the model card and every setting
that changes vectors (pooling, prompts, max length...), the role selects the query or document
prompt, and the content hash is ``embedspec.documents.content_id`` of the input. Vectors are
float32 little-endian bytes, returned bit for bit as they were stored.

Several processes (Ray actors, a server's workers, a CLI run) may use one cache at once: SQLite's
write-ahead log lets readers proceed while one writer commits, and writers wait for each other
(``busy_timeout``). The file is kept under ``max_bytes``: when a write pushes it over, the least
recently used vectors (each hit refreshes its entry) are deleted down to 80% of the limit and the
freed pages returned to the file system. A cache that fails (locked too long, disk full) never
fails encoding: the vectors are computed as if it were absent, and ``errors`` counts the failures.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .documents import content_id
from .errors import EmbedspecError
from .fingerprint import model_fingerprint, sha256_file

FILE_NAME = "embeddings.sqlite"
DEFAULT_MAX_BYTES = 2 * 2**30
_SQL_VARS = 500  # keys per SELECT ... IN (...)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (key BLOB NOT NULL UNIQUE, dim INTEGER NOT NULL, vector BLOB NOT NULL,
                                    used INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS vectors_used ON vectors(used);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                                  inode INTEGER NOT NULL, sha256 TEXT NOT NULL);
"""


def _now() -> int:
    return time.time_ns() // 1000


def cache_from_env() -> EmbeddingCache | None:
    """The cache named by ``EMBEDSPEC_CACHE`` (a directory), limited by ``EMBEDSPEC_CACHE_MAX_MB``."""
    where = os.environ.get("EMBEDSPEC_CACHE", "").strip()
    if not where:
        return None
    limit = os.environ.get("EMBEDSPEC_CACHE_MAX_MB", "").strip()
    try:
        max_bytes = int(float(limit) * 2**20) if limit else DEFAULT_MAX_BYTES
    except ValueError:
        raise EmbedspecError(f"EMBEDSPEC_CACHE_MAX_MB must be a number of megabytes, not {limit!r}") from None
    return EmbeddingCache(where, max_bytes=max_bytes)


class EmbeddingCache:
    """Vectors by (model fingerprint, role, content hash) in ``DIR/embeddings.sqlite``.

    ``encode(encoder, items, role)`` serves what is stored and encodes (then stores) the rest;
    ``hits`` / ``misses`` count this object's lookups.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
        path = Path(path)
        self.file = path if path.suffix == ".sqlite" else path / FILE_NAME
        self.max_bytes = max_bytes
        self.hits = self.misses = self.errors = 0
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._fingerprints: dict[int, tuple[Any, str]] = {}
        self._digests: dict[tuple[str, int, int, int], str] = {}
        self._written_since_check = 0
        self._connect()  # fail now, with the path, if the cache cannot be opened

    # ---- connection --------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        """This process's connection (a forked child opens its own)."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.file, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=60000")
            if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2 and not self._has_tables(conn):
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only before the first table exists
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise EmbedspecError(f"cannot open the embedding cache at {self.file}: {exc}") from None
        self._conn, self._pid = conn, os.getpid()
        return conn

    @staticmethod
    def _has_tables(conn: sqlite3.Connection) -> bool:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0] > 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __getstate__(self) -> dict[str, Any]:  # travels to other processes as its path and limit
        return {"file": self.file, "max_bytes": self.max_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["file"], max_bytes=state["max_bytes"])  # type: ignore[misc]

    # ---- keys ----------------------------------------------------------------------------------
    def fingerprint(self, encoder: Any) -> str:
        """The encoder's fingerprint, computed once per encoder object (file hashes memoized on disk)."""
        known = self._fingerprints.get(id(encoder))
        if known is None or known[0] is not encoder:
            known = (encoder, model_fingerprint(encoder, self.file_digest))
            self._fingerprints[id(encoder)] = known
        return known[1]

    def file_digest(self, path: Path) -> str:
        """SHA-256 of ``path``, read once per (path, size, mtime, inode) and remembered in the cache."""
        st = path.stat()
        where = str(path.resolve())
        memo = (where, st.st_size, st.st_mtime_ns, st.st_ino)
        if memo in self._digests:
            return self._digests[memo]
        with self._lock:
            conn = self._connect()
            row = conn.execute("SELECT size, mtime_ns, inode, sha256 FROM files WHERE path=?", (where,)).fetchone()
            if row is not None and tuple(row[:3]) == memo[1:]:
                digest = row[3]
            else:
                digest = sha256_file(path)
                try:
                    conn.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?)", (*memo, digest))
                except sqlite3.Error as exc:
                    self._failed("remember a file digest", exc)
        self._digests[memo] = digest
        return digest

    @staticmethod
    def key(fingerprint: str, role: str, item: Any) -> bytes:
        """16-byte key of ``item`` encoded with ``role`` by the model with ``fingerprint``."""
        return hashlib.sha256(f"{fingerprint}\0{role}\0{content_id(item)}".encode()).digest()[:16]

    # ---- lookups and stores --------------------------------------------------------------------
    def get(self, keys: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        """Stored ``(dim,) float32`` vectors of ``keys`` (absent keys are left out); refreshes their use."""
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        try:
            with self._lock:
                conn = self._connect()
                for start in range(0, len(unique), _SQL_VARS):
                    chunk = unique[start : start + _SQL_VARS]
                    marks = ",".join("?" * len(chunk))
                    for key, stored_dim, blob in conn.execute(
                        f"SELECT key, dim, vector FROM vectors WHERE key IN ({marks})", chunk
                    ):
                        if stored_dim == dim and len(blob) == 4 * dim:
                            found[bytes(key)] = np.frombuffer(blob, dtype="<f4")
                if found:
                    hit = list(found)
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        for start in range(0, len(hit), _SQL_VARS):
                            chunk = hit[start : start + _SQL_VARS]
                            conn.execute(f"UPDATE vectors SET used=? WHERE key IN ({','.join('?' * len(chunk))})",
                                         [_now(), *chunk])
                        conn.execute("COMMIT")
                    except BaseException:
                        conn.execute("ROLLBACK")
                        raise
        except sqlite3.Error as exc:
            self._failed("read", exc)
            return found
        return found

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store ``vectors`` ``(n, dim)`` under ``keys``; evicts the least recently used when over the limit."""
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        dim = vectors.shape[1]
        now = _now()
        rows = [(k, dim, vectors[i].tobytes(), now) for i, k in enumerate(keys)]
        try:
            with self._lock:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany("INSERT OR REPLACE INTO vectors (key, dim, vector, used) VALUES (?,?,?,?)", rows)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                self._written_since_check += vectors.nbytes + 40 * len(rows)
                if self._written_since_check * 20 >= self.max_bytes or self.size_bytes() > self.max_bytes:
                    self._written_since_check = 0
                    self.evict()
        except sqlite3.Error as exc:
            self._failed("write", exc)

    def encode(self, encoder: Any, items: Sequence[Any], role: str = "document",
               batch_size: int | None = None) -> np.ndarray:
        """``(n, dim) float32``: stored vectors where present, ``encoder.encode`` for the rest (then stored)."""
        items = list(items)
        kwargs = {"batch_size": batch_size} if batch_size else {}
        if getattr(encoder, "output_kind", "dense") != "dense":  # one row per input only: not cached (yet)
            return encoder.encode(items, role=role, **kwargs)
        try:
            fingerprint = self.fingerprint(encoder)
            keys = [self.key(fingerprint, role, item) for item in items]
        except TypeError:  # inputs without a content hash: not cacheable
            return encoder.encode(items, role=role, **kwargs)
        dim = int(encoder.dim)
        found = self.get(keys, dim) if items else {}
        todo: dict[bytes, int] = {}  # key -> position of its first occurrence among the misses
        for position, key in enumerate(keys):
            if key not in found and key not in todo:
                todo[key] = position
        missed = sum(1 for k in keys if k not in found)
        self.hits += len(items) - missed
        self.misses += missed
        if todo:
            fresh = encoder.encode([items[p] for p in todo.values()], role=role, **kwargs)
            self.put(list(todo), fresh)
            found.update(zip(todo, np.asarray(fresh, dtype=np.float32)))
        out = np.empty((len(items), dim), dtype=np.float32)
        for position, key in enumerate(keys):
            out[position] = found[key]
        return out

    # ---- size ----------------------------------------------------------------------------------
    def size_bytes(self) -> int:
        """Bytes of the database in use (pages holding data; freed pages not counted)."""
        conn = self._connect()
        pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages * conn.execute("PRAGMA page_size").fetchone()[0])

    def __len__(self) -> int:
        with self._lock:
            return int(self._connect().execute("SELECT count(*) FROM vectors").fetchone()[0])

    def evict(self) -> int:
        """Delete least recently used vectors until the cache is under 80% of ``max_bytes``; return how many."""
        removed = 0
        with self._lock:
            conn = self._connect()
            for _ in range(8):
                size = self.size_bytes()
                if size <= self.max_bytes * 0.8:
                    break
                count = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
                if not count:
                    break
                drop = max(1, int(count * (1 - 0.8 * self.max_bytes / size)) + 1)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    cur = conn.execute(
                        "DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY used LIMIT ?)", (drop,))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                removed += cur.rowcount
            conn.execute("PRAGMA incremental_vacuum")
        return removed

    def stats(self) -> dict[str, Any]:
        return {"file": str(self.file), "entries": len(self), "bytes": self.size_bytes(), "max_bytes": self.max_bytes,
                "hits": self.hits, "misses": self.misses, "errors": self.errors}

    def _failed(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        if self.errors == 1:
            warnings.warn(f"embedding cache {self.file}: could not {what} ({exc}); encoding without it",
                          RuntimeWarning, stacklevel=3)
