"""The training settings CADE and its baselines share (one declaration, validated with pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CadeSettings(BaseModel):
    """CBOW word2vec hyper-parameters used for the compass, every slice and every baseline.

    Defaults follow the reference CADE package (100 dimensions, window 5, 10 negative samples,
    5 epochs, ``min_count`` 5, learning rate 0.025 decaying to 0.0001, gensim's ``sample=1e-3``).
    Training runs on one thread, so a given ``seed`` gives the same vectors on the same machine.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: int = Field(100, ge=2, le=4096, description="vector dimension")
    window: int = Field(5, ge=1, le=100, description="context words on each side (shrunk at random per position)")
    min_count: int = Field(5, ge=1, description="ignore words seen fewer times (in the union, and in each slice)")
    epochs: int = Field(5, ge=1, le=1000, description="passes over the union (compass) and over each slice")
    negative: int = Field(10, ge=1, le=100, description="negative samples per target word")
    sample: float = Field(1e-3, ge=0, lt=1, description="downsampling threshold of frequent words (0: off)")
    alpha: float = Field(0.025, gt=0, le=1, description="initial learning rate")
    min_alpha: float = Field(0.0001, ge=0, le=1, description="final learning rate (linear decay)")
    seed: int = Field(0, ge=0, lt=2**31, description="random seed (initial vectors, sampling)")
    slice_init: Literal["random", "compass"] = Field(
        "random", description="slice word vectors start random (reference init_mode 'hidden') or at the compass's "
        "vectors ('both'); word2vec baselines ignore it",
    )

    def gensim_kwargs(self, seed_offset: int = 0) -> dict[str, Any]:
        """Keyword arguments of ``gensim.models.Word2Vec`` for CBOW with these settings, one worker."""
        return {
            "vector_size": self.dim, "window": self.window, "min_count": self.min_count,
            "epochs": self.epochs, "negative": self.negative, "sample": self.sample,
            "alpha": self.alpha, "min_alpha": self.min_alpha, "seed": self.seed + seed_offset,
            "sg": 0, "hs": 0, "cbow_mean": 1, "workers": 1, "ns_exponent": 0.75,
        }
