"""The ``gfun`` spec block."""

from __future__ import annotations

from typing import Any, Literal

from embedspec.config_rules import MAX_SEED
from embedspec.registry import ComponentConfig, ComponentSlot, PathField
from pydantic import Field, field_validator, model_validator

from .selection import FIRST_TIER_GRID, MAPPING_GRID, META_GRID

Grid = float | list[float]


class GFunConfig(ComponentConfig):
    """Spec block of the ``gfun`` encoder.

    .. code-block:: yaml

        encoder:
          type: gfun
          posteriors: true                          # TF-IDF + calibrated classifier per language
          wce: true                                 # word-class embeddings per language
          embeddings: {type: use-multilingual}      # any encoder block (language-independent view)
          aggregation: average                      # or concat
          probabilistic: true                       # map every view to calibrated posteriors first
          C: [1, 10, 100, 1000, 10000]              # a grid: chosen while fitting; a number: fixed
          state: ./models/gfun                      # written by save(); loaded by build()
    """

    posteriors: bool = Field(True, description="view: calibrated posteriors of per-language TF-IDF classifiers")
    wce: bool = Field(False, description="view: word-class embeddings learned per language")
    sif: bool = Field(
        False, description="wce: remove the first principal component (helps with many classes, hurts with few)"
    )
    embeddings: Any = ComponentSlot(
        "encoder", None, description="view: an encoder block ({type: ..., ...}) of a multilingual encoder"
    )
    aggregation: Literal["average", "concat"] = "average"
    probabilistic: bool = Field(True, description="recast non-posterior views as posteriors first")
    C: Grid = Field(
        list(FIRST_TIER_GRID),
        description="inverse regularization of the per-language first-tier classifiers: a number, or a grid "
        "to choose from (per language, by cross-validation or on a validation set)",
    )
    map_C: Grid = Field(
        list(MAPPING_GRID), description="the same for the classifiers recasting a view as posteriors"
    )
    meta_C: Grid = Field(list(META_GRID), description="the same for the metaclassifiers")
    folds: int = Field(5, ge=2, le=100, description="k of the k-fold giving out-of-fold posteriors and selecting C")
    analyzer: Literal["auto", "word", "char"] = Field(
        "auto", description="TF-IDF tokens: words, char n-grams, or auto (char for unspaced scripts)"
    )
    min_df: int = Field(1, ge=1, description="TF-IDF: ignore terms in fewer documents")
    threshold: float = Field(0.5, gt=0, lt=1, description="multi-label: posterior needed to predict a label")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    batch_size: int = Field(256, ge=1, le=1_000_000)
    state: str | None = PathField(None, description="directory written by save(); loaded by build()")

    @field_validator("C", "map_C", "meta_C")
    @classmethod
    def _check_grid(cls, value: Grid) -> Grid:
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError("a C grid needs at least one value")
        if len(values) > 20:
            raise ValueError(f"a C grid of {len(values)} values is too long (at most 20: each value costs `folds` fits)")
        bad = [v for v in values if not 0 < v <= 1e12]
        if bad:
            raise ValueError(f"C values must be positive and at most 1e12, got {bad}")
        return value

    @field_validator("embeddings")
    @classmethod
    def _check_encoder_block(cls, block: Any) -> Any:
        """A block ({type: ...}, validated and built by the registry like any block) or an encoder."""
        if block is None:
            return None
        if isinstance(block, dict):
            name = block.get("type")
            if not isinstance(name, str) or not name:
                raise ValueError("the embeddings view needs an encoder block with a 'type' (e.g. use-multilingual)")
            if name == "gfun":
                raise ValueError("the embeddings view of gfun cannot be another gfun encoder")
        elif not callable(getattr(block, "encode", None)):
            raise ValueError(f"embeddings must be an encoder block or an encoder, got {type(block).__name__}")
        return block

    @model_validator(mode="after")
    def _check_views(self) -> GFunConfig:
        if not (self.posteriors or self.wce or self.embeddings):
            raise ValueError("gfun needs at least one view: posteriors, wce or embeddings")
        return self
