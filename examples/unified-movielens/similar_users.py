"""Train Unified Embedding on MovieLens 100k, save it, index the user vectors, find similar users.

    python examples/unified-movielens/similar_users.py [--data DIR] [--retrain]

User vectors: the model is trained on rating records (user and movie features together), so a user's
own vector is the concatenation of the table rows its ``user_id`` reads (4 probes x 8 floats). The
spec sets ``output_features: [user_id]``: the same trained state then encodes records holding only
``user_id``. (Adding age, gender, occupation and zip_code to output_features would mix demographic
similarity into the vectors; user_id alone gives "taste" similarity learned from the ratings.)
The script measures what the neighbours share: liked movies (rating >= 4, Jaccard overlap) and the
user's like rate (share of ratings >= 4), each against random pairs of users.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import embedspec  # noqa: E402
from embedspec.plugins import get_registry  # noqa: E402
from embedspec.spec import Spec, load_spec  # noqa: E402
from embedspec_unified import roc_auc  # noqa: E402
from embedspec_unified.movielens import DEFAULT_DIR, HOW_TO_GET, find_files, load_movielens, split  # noqa: E402

SPEC = Path(__file__).with_name("spec.yaml")


def train(spec: Spec, records: list[dict], targets: np.ndarray) -> None:
    """Fit the encoder of the spec on the 80 % split (early stopping on 10 %) and save it to its state."""
    block = {k: v for k, v in spec.raw["encoder"].items() if k not in ("state", "output_features")}
    encoder = get_registry().build("encoder", block, require_state=False)  # the one factory, untrained
    tr, va, te = split(len(records))
    pick = lambda idx: [records[i] for i in idx]  # noqa: E731
    encoder.fit(pick(tr), targets[tr], validation=(pick(va), targets[va]))
    auc = roc_auc(targets[te], encoder.predict_proba(pick(te)))
    print(f"trained {block['type']} ({encoder.num_parameters} parameters), test AUC {auc:.4f}, "
          f"best epoch {encoder.best_epoch_}")
    state = spec.encoder.config.state  # resolved against the spec's folder
    encoder.save(state)
    print(f"saved to {state}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DIR))
    ap.add_argument("--spec", default=str(SPEC))
    ap.add_argument("--retrain", action="store_true", help="train again even when encoder.state exists")
    args = ap.parse_args(argv)
    if find_files(args.data) is None:
        print(HOW_TO_GET.format(dir=args.data), file=sys.stderr)
        return 2
    spec = load_spec(args.spec)
    records, targets, users = load_movielens(args.data)
    if args.retrain or not Path(spec.encoder.config.state, "state.npz").is_file():
        train(spec, records, targets)

    pipeline = embedspec.build(args.spec)
    encoder, index = pipeline.encoder, pipeline.index
    user_ids = sorted(users)
    user_records = [{"user_id": u} for u in user_ids]
    payloads = [users[u] for u in user_ids]
    pipeline.add(user_records, ids=user_ids, payloads=payloads)
    print(f"indexed {index.count()} users as {encoder.dim}-d vectors in {spec.index.type} "
          f"({index.data_location()})")

    vectors = encoder.encode(user_records)
    hits = index.search(vectors, k=6)  # the first hit is the user itself
    for u, row in list(zip(user_ids, hits))[:3]:
        me = users[u]
        print(f"\nuser {u} ({me['age']}, {me['gender']}, {me['occupation']}):")
        for h in row[1:]:
            p = h.payload or {}
            print(f"  user {h.id:>4}  cosine {h.score:.3f}  ({p.get('age')}, {p.get('gender')}, {p.get('occupation')})")

    liked: dict[int, set[int]] = {u: set() for u in user_ids}
    for rec, y in zip(records, targets):
        if y:
            liked[rec["user_id"]].add(rec["movie_id"])

    def jaccard(a: int, b: int) -> float:
        union = liked[a] | liked[b]
        return len(liked[a] & liked[b]) / len(union) if union else 0.0

    near = np.mean([jaccard(u, h.id) for u, row in zip(user_ids, hits) for h in row[1:] if h.id != u])
    rng = np.random.default_rng(0)
    rand = np.mean([jaccard(int(a), int(b)) for a, b in rng.choice(user_ids, (5 * len(user_ids), 2)) if a != b])
    print(f"\nliked-movie overlap (Jaccard) with the 5 nearest users: {near:.4f}; with random users: {rand:.4f} "
          f"({near / rand:.2f}x)")
    rated: dict[int, list[int]] = {u: [] for u in user_ids}
    for rec, y in zip(records, targets):
        rated[rec["user_id"]].append(int(y))
    rate = {u: float(np.mean(v)) for u, v in rated.items()}
    near_gap = np.mean([abs(rate[u] - rate[h.id]) for u, row in zip(user_ids, hits) for h in row[1:] if h.id != u])
    rand_gap = np.mean([abs(rate[int(a)] - rate[int(b)]) for a, b in rng.choice(user_ids, (5 * len(user_ids), 2)) if a != b])
    print(f"share of ratings >= 4, mean gap to the 5 nearest users: {near_gap:.3f}; to random users: {rand_gap:.3f}")
    pipeline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
