"""Record encoders: ``unified-embedding`` and the baselines ``per-feature-embedding``, ``hashing-trick``.

All three embed records (dicts feature -> value or list of values) through one flat table
``(num_rows, chunk_dim)`` trained jointly with a small head for a binary target; they differ only in
their ``layouts`` (which rows a value reads). ``encode`` returns the concatenated feature vectors
``(n, sum(num_chunks) * chunk_dim) float32``, in the order of ``features``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from embedspec.base import BaseEncoder
from embedspec.errors import EmbedspecError
from embedspec.protocols import Role

from .config import FeatureConfig, RecordEncoderConfig
from .layouts import HashingTrickLayout, PerFeatureLayout, UnifiedLayout, allocate_buckets
from .model import Lookups, embed, init_params, predict_logits, sigmoid
from .records import Ragged, parse_records
from .training import train

_HEAD = ("w1", "b1", "w2", "b2")


class RecordEmbeddingEncoder(BaseEncoder):
    """Shared implementation; subclasses set ``layout_kind``."""

    Config = RecordEncoderConfig
    requires_fit: ClassVar[bool] = True
    modalities = frozenset({"record"})
    layout_kind: ClassVar[str] = "unified"

    def _init_runtime(self) -> None:
        self._fingerprints: dict[Any, int] = {}

    # ---- configuration ---------------------------------------------------------------------
    def config(self) -> RecordEncoderConfig:
        """The validated parameters (raises pydantic's ``ValidationError`` naming the bad field)."""
        names = RecordEncoderConfig.model_fields
        return RecordEncoderConfig.model_validate({k: getattr(self, k) for k in names})

    @property
    def feature_specs(self) -> dict[str, FeatureConfig]:
        return dict(self.config().features)

    @property
    def outputs(self) -> list[str]:
        """The features ``encode`` reads and returns (``output_features``, default all), in config order."""
        cfg = self.config()
        wanted = set(cfg.output_features or cfg.features)
        return [name for name in cfg.features if name in wanted]

    @property
    def dim(self) -> int:
        specs = self.feature_specs
        return sum(specs[name].num_chunks for name in self.outputs) * self.chunk_dim

    @property
    def feature_slices(self) -> dict[str, slice]:
        """Columns of each output feature in the vectors of ``encode``."""
        out, start = {}, 0
        specs = self.feature_specs
        for name in self.outputs:
            spec = specs[name]
            out[name] = slice(start, start + spec.num_chunks * self.chunk_dim)
            start = out[name].stop
        return out

    @property
    def num_parameters(self) -> int:
        """Floats in the trained table plus the head."""
        self.check_fitted()
        return sum(int(a.size) for a in self._params().values())

    def _layout(self, columns: Mapping[str, Ragged] | None = None) -> Any:
        cfg = self.config()
        if self.layout_kind == "unified":
            return UnifiedLayout(cfg.features, cfg.rows, cfg.seed)
        if self.layout_kind == "hashing-trick":
            return HashingTrickLayout(cfg.features, cfg.rows, cfg.seed)
        buckets = getattr(self, "feature_buckets_", None)
        if columns is not None:  # fitting: split the budget on the training cardinalities
            cards = [len(np.unique(columns[name].values)) for name in cfg.features]
            buckets = allocate_buckets(cfg.rows, cards, [s.num_chunks for s in cfg.features.values()])
        return PerFeatureLayout(cfg.features, buckets, cfg.seed)

    def _lookups(self, records: Sequence[Any], layout: Any = None, features: Sequence[str] | None = None) -> Lookups:
        specs = self.feature_specs
        if features is not None:
            specs = {name: spec for name, spec in specs.items() if name in features}
        columns = parse_records(records, specs, self._fingerprints)
        return _to_lookups(columns, specs, layout or self._layout())

    # ---- training --------------------------------------------------------------------------
    def fit(
        self,
        records: Sequence[Mapping[str, Any]],
        targets: Sequence[float] | np.ndarray,
        validation: tuple[Sequence[Mapping[str, Any]], Sequence[float] | np.ndarray] | None = None,
    ) -> RecordEmbeddingEncoder:
        """Train the table and the head on binary ``targets`` (0/1); returns ``self``.

        ``validation`` (records, targets) drives early stopping; without it, ``validation_fraction``
        of ``records`` is held out (none when it is 0).
        """
        cfg = self.config()
        records = list(records)
        y = _binary_targets(targets, len(records), "targets")
        rng = np.random.default_rng(cfg.seed)
        if validation is None and cfg.validation_fraction > 0 and len(records) >= 10:
            perm = rng.permutation(len(records))
            n_val = max(1, round(cfg.validation_fraction * len(records)))
            validation = ([records[i] for i in perm[:n_val]], y[perm[:n_val]])
            records, y = [records[i] for i in perm[n_val:]], y[perm[n_val:]]
        columns = parse_records(records, cfg.features, self._fingerprints)
        layout = self._layout(columns)
        lookups = _to_lookups(columns, cfg.features, layout)
        val = None
        if validation is not None:
            val_records = list(validation[0])
            val = (self._lookups(val_records, layout), _binary_targets(validation[1], len(val_records), "validation targets"))
        dim = sum(spec.num_chunks for spec in cfg.features.values()) * cfg.chunk_dim  # all features, not outputs
        params = init_params(layout.num_rows, cfg.chunk_dim, dim, cfg.head, cfg.hidden, cfg.init_scale, rng)
        params, history, best_epoch = train(
            params, lookups, y, val, optimizer=cfg.optimizer, learning_rate=cfg.learning_rate, l2=cfg.l2,
            epochs=cfg.epochs, patience=cfg.patience, batch_size=cfg.batch_size, rng=rng,
        )
        self._clear_state()
        self._set_params(params)
        if isinstance(layout, PerFeatureLayout):
            self.feature_buckets_ = layout.buckets
        self.history_ = history
        self.best_epoch_ = best_epoch
        return self

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(n,) float64`` probability that the target is 1, per record."""
        self.check_fitted()
        logits = predict_logits(self._params(), self._lookups(records), self.batch_size)
        return sigmoid(logits.astype(np.float64))

    # ---- encoding --------------------------------------------------------------------------
    def encode(self, inputs: Sequence[Any], *, role: Role = "document", batch_size: int | None = None) -> np.ndarray:
        """``(n, dim) float32`` feature vectors of the records (``role`` does not change them).

        Records hold every feature, or only ``output_features`` when that is set.
        """
        if isinstance(inputs, Mapping):
            raise TypeError("encode() takes a sequence of records; use encode_one() for a single record")
        inputs = list(inputs)
        return super().encode(inputs, role=role, batch_size=max(1, len(inputs)))  # one parse: positions are global

    def _encode_batch(self, inputs: Sequence[Any], role: Role) -> np.ndarray:
        return self._embed(self._lookups(inputs, features=self.outputs))

    def encode_features(self, records: Sequence[Mapping[str, Any]], features: Sequence[str]) -> np.ndarray:
        """``(n, sum of their dims) float32`` vectors of records holding only ``features``.

        E.g. ``encode_features([{"user_id": 7}], ["user_id"])`` gives the learned vector of user 7.
        Columns follow the order of ``features`` in the config.
        """
        self.check_fitted()
        unknown = [f for f in features if f not in self.feature_specs]
        if unknown or not features:
            raise EmbedspecError(
                f"encode_features needs configured feature names; got {list(features)!r} "
                f"(configured: {', '.join(self.feature_specs)})"
            )
        return self._embed(self._lookups(records, features=features))

    def _embed(self, lookups: Lookups) -> np.ndarray:
        out = []
        for start in range(0, lookups.m, max(self.batch_size, 4096)):
            sel = np.arange(start, min(start + max(self.batch_size, 4096), lookups.m))
            out.append(embed(self.table_, lookups.take(sel)))
        return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)

    # ---- state -----------------------------------------------------------------------------
    def _params(self) -> dict[str, np.ndarray]:
        params = {"table": self.table_}
        params.update({k: getattr(self, f"{k}_") for k in _HEAD if hasattr(self, f"{k}_")})
        return params

    def _set_params(self, params: Mapping[str, np.ndarray]) -> None:
        for name, value in params.items():
            setattr(self, f"{name}_", np.ascontiguousarray(value, dtype=np.float32))

    def _clear_state(self) -> None:
        for key in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, key)

    def set_state(self, arrays: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> None:
        cfg = self.config()
        table = arrays.get("table_")
        if table is None or table.ndim != 2 or table.shape[1] != cfg.chunk_dim:
            raise EmbedspecError(
                f"saved state does not fit this {type(self).__name__}: table of shape "
                f"{None if table is None else table.shape}, chunk_dim={cfg.chunk_dim}"
            )
        if ("w1_" in arrays) != (cfg.head == "mlp"):
            raise EmbedspecError(f"saved state is for another head than head={cfg.head!r}")
        head_in = arrays["w1_" if cfg.head == "mlp" else "w2_"].shape[0]
        full_dim = sum(spec.num_chunks for spec in cfg.features.values()) * cfg.chunk_dim
        if head_in != full_dim:
            raise EmbedspecError(
                f"saved head reads {head_in} inputs; these features give {full_dim} (other features or num_chunks?)"
            )
        if self.layout_kind == "per-feature" and not values.get("feature_buckets_"):
            raise EmbedspecError("saved state has no feature_buckets_: it was not saved by per-feature-embedding")
        self._clear_state()
        super().set_state(arrays, values)
        expected = self._layout().num_rows
        if expected != table.shape[0]:
            self._clear_state()
            raise EmbedspecError(
                f"saved state has a table of {table.shape[0]} rows; this {type(self).__name__} "
                f"(rows={cfg.rows}) expects {expected}: was it saved by another encoder type or config?"
            )


class UnifiedEmbeddingEncoder(RecordEmbeddingEncoder):
    """Unified Embedding (Coleman et al., 2023): one shared table, per-feature salted multi-probe hashing."""

    layout_kind = "unified"


class PerFeatureEmbeddingEncoder(RecordEmbeddingEncoder):
    """Baseline: a hashed table per feature; the budget is split across features at fit time."""

    layout_kind = "per-feature"


class HashingTrickEncoder(RecordEmbeddingEncoder):
    """Baseline: one shared table, one probe per value, no per-feature salt."""

    layout_kind = "hashing-trick"


def _to_lookups(columns: Mapping[str, Ragged], specs: Mapping[str, FeatureConfig], layout: Any) -> Lookups:
    """Table rows of parsed columns under ``layout``."""
    return Lookups(
        [col.map(layout.rows(name, col.values)) for name, col in columns.items()],
        [specs[name].pooling for name in columns],
    )


def _binary_targets(targets: Any, n: int, what: str) -> np.ndarray:
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if len(y) != n:
        raise ValueError(f"got {len(y)} {what} for {n} records")
    bad = np.flatnonzero((y != 0) & (y != 1))
    if len(bad):
        raise ValueError(f"{what} must be 0 or 1: position {bad[0]} is {float(y[bad[0]])!r}")
    return y
