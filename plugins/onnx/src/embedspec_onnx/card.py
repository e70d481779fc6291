"""The model directory contract: what ``embedspec export`` writes and every ONNX encoder reads.

A model directory holds::

    embedspec.json      the ModelCard below (JSON)
    model.onnx          fp32 graph: inputs input_ids / attention_mask [/ token_type_ids / position_ids],
                        output last_hidden_state (batch, seq, hidden) -- or an already pooled (batch, dim)
    model_int8.onnx     optional int8 graph, same inputs and outputs
    model_fp16.onnx     optional fp16 graph (GPU)
    tokenizer.json      a Hugging Face ``tokenizers`` file (its pinned padding/truncation are ignored)

Other encoders extend the contract by subclassing ``ModelCard`` (new fields) and naming more
files in ``files`` (e.g. CLIP: ``text_model`` / ``vision_model``). ``kind`` says which card class
a directory needs; readers check it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from embedspec.errors import EmbedspecError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CARD_FILE = "embedspec.json"
FORMAT_VERSION = 1
Pooling = Literal["mean", "cls", "last-token"]
Precision = Literal["fp32", "fp16", "int8"]
#: ``files`` key of the graph for each precision.
PRECISION_FILES: dict[str, str] = {"fp32": "model", "fp16": "model_fp16", "int8": "model_int8"}


class ModelDirectoryError(EmbedspecError, ValueError):
    """A model directory or its ``embedspec.json`` is missing, invalid or incomplete."""


class ExportInfo(BaseModel):
    """How the directory was produced (informative; never read to compute vectors)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    source: str | None = None
    exporter: str | None = None
    opset: int | None = None
    optimize: str | None = None
    verified_max_abs_diff: float | None = None
    int8_method: str | None = None
    int8_mean_cosine: float | None = None
    int8_min_cosine: float | None = None


class ModelCard(BaseModel):
    """Frozen, self-validating description of an exported model (``embedspec.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())
    #: The ``kind`` value this class reads; subclasses (CLIP...) set their own.
    KIND: ClassVar[str] = "text"

    format_version: int = FORMAT_VERSION
    kind: str = "text"
    name: str = Field(description="model name, e.g. the Hugging Face id it was exported from")
    family: str = Field(description="catalogue family: minilm, e5, bge, gte, kalm, qwen3, generic...")
    architecture: Literal["encoder", "decoder"] = "encoder"
    dim: int = Field(gt=0, description="size of the pooled vector")
    pooling: Pooling = "mean"
    normalize: bool = True
    max_length: int = Field(512, gt=1, description="tokens per input, special tokens included")
    padding_side: Literal["left", "right"] = "right"
    query_prompt: str = ""
    document_prompt: str = ""
    matryoshka_dims: tuple[int, ...] = ()
    pad_token_id: int | None = None
    output_name: str = "last_hidden_state"
    files: dict[str, str] = Field(default_factory=lambda: {"model": "model.onnx", "tokenizer": "tokenizer.json"})
    export: ExportInfo = Field(default_factory=ExportInfo)

    @model_validator(mode="after")
    def _check(self) -> ModelCard:
        if self.format_version > FORMAT_VERSION:
            raise ValueError(
                f"format_version {self.format_version} is newer than this embedspec-onnx "
                f"understands ({FORMAT_VERSION}); upgrade embedspec-onnx"
            )
        if self.kind != self.KIND:
            raise ValueError(f"kind is {self.kind!r}, this reader needs {self.KIND!r}")
        bad = [d for d in self.matryoshka_dims if not 0 < d <= self.dim]
        if bad:
            raise ValueError(f"matryoshka_dims {bad} must be in 1..dim ({self.dim})")
        return self

    # ---- reading / writing ----------------------------------------------------------------
    @classmethod
    def read(cls, directory: str | Path) -> ModelCard:
        """Parse ``directory/embedspec.json``; errors name the file and the field."""
        path = Path(directory) / CARD_FILE
        if not path.is_file():
            raise ModelDirectoryError(
                f"{directory} is not an embedspec model directory: {CARD_FILE} is missing "
                f"(create one with `embedspec export SRC {directory}`)"
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelDirectoryError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
            )
            raise ModelDirectoryError(f"{path}: {problems}") from None

    def write(self, directory: str | Path) -> Path:
        path = Path(directory) / CARD_FILE
        path.write_text(
            json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        return path

    # ---- queries --------------------------------------------------------------------------
    def file(self, directory: str | Path, key: str) -> Path:
        """Absolute path of file ``key`` (``model``, ``model_int8``, ``tokenizer``...); must exist."""
        name = self.files.get(key)
        if name is None:
            raise ModelDirectoryError(
                f"{Path(directory) / CARD_FILE} lists no {key!r} file (files: {sorted(self.files)})"
            )
        path = Path(directory) / name
        if not path.is_file():
            raise ModelDirectoryError(f"model directory {directory} lacks {name} (files.{key})")
        return path

    def graph_file(self, directory: str | Path, precision: str) -> Path:
        key = PRECISION_FILES.get(precision)
        if key is None:
            raise ModelDirectoryError(f"unknown precision {precision!r}; choose one of {sorted(PRECISION_FILES)}")
        if key not in self.files:
            hint = " (export with --quantize int8)" if precision == "int8" else ""
            raise ModelDirectoryError(f"model directory {directory} has no {precision} graph{hint}")
        return self.file(directory, key)

    def prompt(self, role: str) -> str:
        return self.query_prompt if role == "query" else self.document_prompt

    def check_dim(self, dim: int | None) -> int:
        """The output dimension for a requested Matryoshka ``dim`` (None: the full one)."""
        if dim is None or dim == self.dim:
            return self.dim
        if not 0 < dim <= self.dim:
            raise ValueError(f"dim {dim} is out of range: model {self.name} produces {self.dim}-d vectors")
        if self.matryoshka_dims and dim not in self.matryoshka_dims:
            raise ValueError(
                f"dim {dim} is not one of the Matryoshka dims model {self.name} was trained for: "
                f"{list(self.matryoshka_dims)}"
            )
        if not self.matryoshka_dims:
            raise ValueError(
                f"model {self.name} declares no Matryoshka dims; truncating it to {dim} would lose quality "
                "(add matryoshka_dims to embedspec.json if the model supports it)"
            )
        return dim

    def replace(self, **changes: Any) -> ModelCard:
        """A validated copy with ``changes`` applied."""
        return type(self).model_validate({**self.model_dump(), **changes})
