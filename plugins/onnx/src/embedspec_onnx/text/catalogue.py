"""Known model families and models: frozen, self-validating descriptions used by export and ``hf://``.

A *family* gives the settings a checkpoint needs beyond its weights (pooling, prompts, padding);
a *catalogue entry* is one published model with its dimension, length and Matryoshka dims.
``embedspec models`` lists the catalogue.
"""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..common.card import ModelCard, Pooling

KALM_QUERY = "Instruct: Given a query, retrieve documents that answer the query \n Query: "
QWEN3_QUERY = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"
BGE_EN_QUERY = "Represent this sentence for searching relevant passages: "


class Family(BaseModel):
    """Settings shared by the checkpoints of a family."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    architecture: Literal["encoder", "decoder"] = "encoder"
    pooling: Pooling = "mean"
    normalize: bool = True
    padding_side: Literal["left", "right"] = "right"
    query_prompt: str = ""
    document_prompt: str = ""
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Family:
        if self.pooling == "last-token" and self.padding_side != "left":
            raise ValueError(f"family {self.name}: last-token pooling needs left padding")
        return self


class CatalogueEntry(BaseModel):
    """One published model: its Hugging Face id, family and output sizes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Hugging Face id of the checkpoint")
    family: str
    dim: int = Field(gt=0)
    max_length: int = Field(gt=1)
    matryoshka_dims: tuple[int, ...] = ()
    languages: str = "en"
    onnx_repo: str | None = Field(None, description="hub repo with a pre-exported ONNX, if known")
    query_prompt: str | None = None  # overrides the family's
    document_prompt: str | None = None

    @model_validator(mode="after")
    def _check(self) -> CatalogueEntry:
        if self.family not in FAMILIES:
            raise ValueError(f"{self.name}: unknown family {self.family!r}")
        if any(not 0 < d <= self.dim for d in self.matryoshka_dims):
            raise ValueError(f"{self.name}: matryoshka_dims must lie in 1..{self.dim}")
        return self

    def card(self, **changes: object) -> ModelCard:
        """The ``ModelCard`` an export of this model writes (``changes`` override fields)."""
        fam = FAMILIES[self.family]
        values: dict[str, object] = {
            "name": self.name,
            "family": self.family,
            "architecture": fam.architecture,
            "dim": self.dim,
            "pooling": fam.pooling,
            "normalize": fam.normalize,
            "max_length": self.max_length,
            "padding_side": fam.padding_side,
            "query_prompt": fam.query_prompt if self.query_prompt is None else self.query_prompt,
            "document_prompt": fam.document_prompt if self.document_prompt is None else self.document_prompt,
            "matryoshka_dims": self.matryoshka_dims,
        }
        values.update(changes)
        return ModelCard.model_validate(values)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(name="minilm", description="sentence-transformers MiniLM/MPNet: mean pooling, no prompts"),
        Family(
            name="e5",
            query_prompt="query: ",
            document_prompt="passage: ",
            description="E5 / multilingual-E5: mean pooling, 'query: ' / 'passage: ' prefixes",
        ),
        Family(
            name="bge",
            pooling="cls",
            query_prompt=BGE_EN_QUERY,
            description="BGE: CLS pooling, an instruction before queries only",
        ),
        Family(name="gte", description="GTE (thenlper): mean pooling, no prompts"),
        Family(
            name="kalm",
            architecture="decoder",
            query_prompt=KALM_QUERY,
            description="KaLM-Embedding (Qwen2 decoder): mean pooling, 'Instruct: ... \\n Query: ' "
            "template before queries, Matryoshka dims",
        ),
        Family(
            name="qwen3",
            architecture="decoder",
            pooling="last-token",
            padding_side="left",
            query_prompt=QWEN3_QUERY,
            description="Qwen3-Embedding style: last-token pooling with left padding, instruction "
            "before queries, Matryoshka dims",
        ),
        Family(name="generic", description="any encoder: mean pooling, no prompts (override as needed)"),
    )
}

CATALOGUE: dict[str, CatalogueEntry] = {
    e.name: e
    for e in (
        CatalogueEntry(
            name="sentence-transformers/all-MiniLM-L6-v2", family="minilm", dim=384, max_length=256,
            onnx_repo="sentence-transformers/all-MiniLM-L6-v2",
        ),
        CatalogueEntry(name="sentence-transformers/all-MiniLM-L12-v2", family="minilm", dim=384, max_length=256),
        CatalogueEntry(
            name="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", family="minilm", dim=384,
            max_length=128, languages="50+",
        ),
        CatalogueEntry(name="intfloat/e5-small-v2", family="e5", dim=384, max_length=512),
        CatalogueEntry(name="intfloat/e5-base-v2", family="e5", dim=768, max_length=512),
        CatalogueEntry(name="intfloat/multilingual-e5-small", family="e5", dim=384, max_length=512, languages="100"),
        CatalogueEntry(name="intfloat/multilingual-e5-base", family="e5", dim=768, max_length=512, languages="100"),
        CatalogueEntry(name="intfloat/multilingual-e5-large", family="e5", dim=1024, max_length=512, languages="100"),
        CatalogueEntry(name="BAAI/bge-small-en-v1.5", family="bge", dim=384, max_length=512),
        CatalogueEntry(name="BAAI/bge-base-en-v1.5", family="bge", dim=768, max_length=512),
        CatalogueEntry(name="BAAI/bge-large-en-v1.5", family="bge", dim=1024, max_length=512),
        CatalogueEntry(
            name="BAAI/bge-m3", family="bge", dim=1024, max_length=8192, languages="100",
            query_prompt="",
        ),
        CatalogueEntry(name="thenlper/gte-small", family="gte", dim=384, max_length=512),
        CatalogueEntry(name="thenlper/gte-base", family="gte", dim=768, max_length=512),
        CatalogueEntry(
            name="HIT-TMG/KaLM-embedding-multilingual-mini-instruct-v1.5", family="kalm", dim=896,
            max_length=512, matryoshka_dims=(896, 512, 256, 128, 64), languages="multilingual",
        ),
        CatalogueEntry(
            name="KaLM-Embedding/KaLM-embedding-multilingual-mini-instruct-v2", family="kalm", dim=896,
            max_length=512, matryoshka_dims=(896, 512, 256, 128, 64), languages="multilingual",
        ),
        CatalogueEntry(
            name="Qwen/Qwen3-Embedding-0.6B", family="qwen3", dim=1024, max_length=8192,
            matryoshka_dims=(1024, 768, 512, 256, 128, 64, 32), languages="100+",
        ),
    )
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; known families: {', '.join(FAMILIES)}") from None


def find_entry(name: str) -> CatalogueEntry | None:
    """The catalogue entry for a hub id (case-insensitive), or None."""
    lowered = {k.lower(): v for k, v in CATALOGUE.items()}
    return lowered.get(name.lower().removeprefix("hf://"))


def guess_family(name: str) -> str:
    """A family from a checkpoint's name (``e5``, ``bge``...), ``generic`` when nothing matches."""
    entry = find_entry(name)
    if entry is not None:
        return entry.family
    low = name.lower()
    for key, fam in (("minilm", "minilm"), ("mpnet", "minilm"), ("e5", "e5"), ("bge", "bge"),
                     ("gte", "gte"), ("kalm", "kalm"), ("qwen3-embedding", "qwen3")):
        if key in low:
            return fam
    return "generic"


def close_names(name: str) -> list[str]:
    return difflib.get_close_matches(name, list(CATALOGUE), n=3, cutoff=0.4)
