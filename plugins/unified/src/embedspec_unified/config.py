"""Spec blocks of the record encoders (``unified-embedding`` and its two baselines)."""

from __future__ import annotations

from typing import Literal

from embedspec.config_rules import MAX_DIM, MAX_SEED
from embedspec.registry import ComponentConfig, PathField
from pydantic import Field, field_validator, model_validator


class FeatureConfig(ComponentConfig):
    """One categorical feature of the records."""

    num_chunks: int = Field(1, ge=1, le=1024, description="probes (table rows) concatenated: dim = num_chunks * chunk_dim")
    pooling: Literal["mean", "sum"] = Field("mean", description="how the values of a multi-valued feature combine")
    multivalued: bool = Field(False, description="the value is a list of values (e.g. genres)")


class RecordEncoderConfig(ComponentConfig):
    """Spec block shared by ``unified-embedding``, ``per-feature-embedding`` and ``hashing-trick``.

    The parameter budget of the embedding table is ``rows * chunk_dim`` floats for all three.
    """

    features: dict[str, FeatureConfig] = Field(description="feature name -> its settings, in output order")
    rows: int = Field(4096, ge=1, le=100_000_000, description="rows of the shared table (the budget is rows * chunk_dim)")
    chunk_dim: int = Field(8, ge=1, le=MAX_DIM, description="width of one table row (one probe)")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the hash salts, the initialization and the shuffling")
    head: Literal["logistic", "mlp"] = Field("mlp", description="task head trained with the table")
    hidden: int = Field(32, ge=1, le=MAX_DIM, description="hidden units of the mlp head")
    optimizer: Literal["adam", "adagrad"] = "adam"
    learning_rate: float = Field(0.01, gt=0, le=1000.0)
    l2: float = Field(1e-6, ge=0, description="L2 penalty on the rows a batch touches and on head weights")
    init_scale: float = Field(0.05, gt=0, description="standard deviation of the initial table entries")
    epochs: int = Field(20, ge=1, le=100_000, description="most passes over the training records")
    patience: int = Field(3, ge=1, le=100_000, description="epochs without a better validation loss before stopping")
    validation_fraction: float = Field(
        0.1, ge=0, lt=1, description="share of fit() records held out for early stopping (0: none)"
    )
    batch_size: int = Field(512, ge=1, le=1_000_000, description="records per minibatch (training and encoding)")
    output_features: list[str] | None = Field(
        None,
        description="features encode() reads and returns, in config order (default: all); records given "
        "to encode() then hold only these, e.g. [user_id] for user vectors of a model trained on ratings",
    )
    state: str | None = PathField(None, description="directory written by save(); loaded by build()")

    @field_validator("features")
    @classmethod
    def _some_features(cls, value: dict[str, FeatureConfig]) -> dict[str, FeatureConfig]:
        if not value:
            raise ValueError("features must name at least one feature")
        for name in value:
            if not name:
                raise ValueError("feature names must be non-empty strings")
        return value

    @model_validator(mode="after")
    def _known_outputs(self) -> RecordEncoderConfig:
        if self.output_features is not None:
            unknown = [f for f in self.output_features if f not in self.features]
            if unknown or not self.output_features:
                raise ValueError(
                    f"output_features must name configured features; got {self.output_features} "
                    f"(configured: {', '.join(self.features)})"
                )
        return self
