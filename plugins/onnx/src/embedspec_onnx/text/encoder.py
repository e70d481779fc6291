"""``onnx-text``: a text encoder running an exported model directory with onnxruntime.

``check()`` (every ``build``) reads the card and checks every file it names without loading
anything; ``check(deep=True)`` (``embedspec validate``) also loads the graph on CPU, the tokenizer,
and runs one forward pass. Warm-up repeats the light checks and the graph's inputs/outputs, so a
broken directory fails with a ``ModelDirectoryError`` naming the file, never a raw traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from embedspec.base import BaseEncoder, l2_normalize
from embedspec.config_rules import MAX_DIM
from embedspec.protocols import Role
from embedspec.registry import ComponentConfig, PathField
from embedspec.representations import MultiVectors, SparseVectors
from pydantic import Field, model_validator

from ..common.card import (
    CARD_FILE,
    MAX_LENGTH,
    MODEL_AS_TEXT,
    PRECISION_FILES,
    ModelCard,
    ModelDirectoryError,
    Pooling,
    Precision,
    depth_key,
    local_directory,
)
from ..common.hub import HF_SCHEME, cached, parse_hf
from ..common.runtime import applied_device, check_graph, check_output_dim, create_session, run
from ..common.tokenization import Batch, TextTokenizer
from .pooling import pool
from .resolve import HUB_PATTERNS, card_for_snapshot, resolve
from .sparse import check_mlm_head, sparse_rows, splade_weights
from .tokens import (
    PROJECTION_FILE,
    Projection,
    TokenRules,
    check_not_empty,
    mask_token_id,
    padded_batches,
    place_tokens,
    punctuation_ids,
    token_rows,
    token_vectors,
)

#: Inputs the encoder can feed (``tokenization.Batch.feed``); ``input_ids`` is required.
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")
#: Tokens of the deep check's forward pass: ``max_length``, capped here.
PROBE_TOKENS = 1024


class OnnxTextEncoderConfig(ComponentConfig):
    """Spec block of ``onnx-text``; unset fields come from the model's ``embedspec.json``."""

    model: str = PathField(description="model directory (from `embedspec export`) or hf://ORG/NAME[@REV]")
    pooling: Pooling | None = None
    normalize: bool | None = None
    query_prompt: str | None = Field(None, description="text put before queries")
    document_prompt: str | None = Field(None, description="text put before documents")
    max_length: int | None = Field(None, gt=1, le=MAX_LENGTH, description="tokens per input, special tokens included")
    padding_side: Literal["left", "right"] | None = None
    dim: int | None = Field(None, gt=0, le=MAX_DIM, description="Matryoshka truncation (before normalization)")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    precision: Precision = Field("fp32", description="fp32 (model.onnx), int8 (model_int8.onnx), fp16")
    layers: int | None = Field(None, gt=0, le=1024, description="run a graph that stops after this layer (depth "
                               "truncation; `embedspec export --layers`); default: all layers")
    threads: int | None = Field(None, gt=0, le=1024, description="intra-op threads; default: physical cores")
    batch_size: int = Field(32, gt=0, le=65_536, description="rows per forward pass, at most")
    batch_tokens: int | None = Field(
        None, gt=0, le=16_777_216,
        description="padded tokens per forward pass, at most (rows x longest row; texts sorted by length first)",
    )
    output: Literal["pooled", "tokens", "sparse"] = Field(
        "pooled", description="pooled: one vector per text (dense); tokens: one vector per token (multi, MaxSim); "
        "sparse: SPLADE weights over the vocabulary from a masked-LM head (`embedspec export --sparse`)")
    top_k: int | None = Field(None, gt=0, le=1_000_000, description="sparse: keep the k largest weights per text; "
                              "null: every non-zero weight")
    query_length: int | None = Field(
        None, gt=1, le=MAX_LENGTH, description="tokens: queries truncated, then padded with the mask token to this "
        "many tokens, all kept (ColBERT query augmentation); null: no augmentation")
    attend_to_mask: bool = Field(False, description="tokens: the augmentation's mask tokens are attended to")
    skip_punctuation: bool = Field(False, description="tokens: drop punctuation tokens from documents")
    keep_special: bool = Field(False, description="tokens: keep special tokens ([CLS], [SEP]) as vectors")

    _model_text = MODEL_AS_TEXT  # a Path object is taken as its text

    @model_validator(mode="after")
    def _token_options(self) -> OnnxTextEncoderConfig:
        if self.output == "tokens":
            if self.pooling is not None:
                raise ValueError("pooling does not apply to output: tokens (token vectors are not pooled)")
        else:
            for name in ("query_length", "attend_to_mask", "skip_punctuation", "keep_special"):
                if getattr(self, name) not in (None, False):
                    raise ValueError(f"{name} applies to output: tokens only (output is {self.output!r})")
        if self.output == "sparse":
            for name in ("pooling", "normalize"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} does not apply to output: sparse (SPLADE weights span the vocabulary)")
        elif self.top_k is not None:
            raise ValueError(f"top_k applies to output: sparse only (output is {self.output!r})")
        return self


class OnnxTextEncoder(BaseEncoder):
    """ONNX text encoder: length-sorted, dynamically padded batches; pooling per the model card.

    ``encode(texts, role=...)`` -> ``(n, dim) float32`` (L2-normalized when ``normalize``); with
    ``output: tokens`` a ``MultiVectors`` (``(tokens_i, dim)`` per text, see ``tokens.py``).
    """

    Config = OnnxTextEncoderConfig
    modalities = frozenset({"text"})

    def _init_runtime(self) -> None:
        self._card: ModelCard | None = None
        self._model_dir: Path | None = None

    # ``dim`` is both the parameter (Matryoshka truncation, None = full) and the protocol's output
    # size; reading it gives the output size, so a described spec block states it explicitly.
    @property
    def dim(self) -> int:  # type: ignore[override]
        if self.output == "sparse":
            return check_mlm_head(self.card, self.model, self._dim)
        if self.output == "tokens":  # dim, when given, must be the token vectors' width (no truncation)
            card = self.card
            width = card.token_dim or card.dim
            if self._dim is not None and self._dim != width:
                raise ModelDirectoryError(f"dim {self._dim} does not match the token vectors of model {card.name}, "
                                          f"which are {width}-d (token vectors are not truncated)", field="dim")
            return width
        return self.card.check_dim(self._dim)

    @dim.setter
    def dim(self, value: int | None) -> None:
        self._dim = value

    @property
    def output_kind(self) -> str:  # type: ignore[override]
        """``dense`` (pooled), ``multi`` (``output: tokens``) or ``sparse`` (``output: sparse``)."""
        return {"tokens": "multi", "sparse": "sparse"}.get(self.output, "dense")

    @property
    def card(self) -> ModelCard:
        """The model card with this encoder's overrides applied (resolved once; hf:// downloads)."""
        if self._card is None:
            directory, card = resolve(self.model)
            self._card = self._with_overrides(card)
            self._model_dir = directory
        return self._card

    def _with_overrides(self, card: ModelCard) -> ModelCard:
        changes: dict[str, Any] = {
            k: v
            for k, v in (
                ("pooling", self.pooling), ("normalize", self.normalize),
                ("query_prompt", self.query_prompt), ("document_prompt", self.document_prompt),
                ("max_length", self.max_length), ("padding_side", self.padding_side),
            )
            if v is not None
        }
        if self.pooling == "last-token" and self.padding_side is None:
            changes["padding_side"] = "left"
        return card.replace(**changes) if changes else card

    @property
    def model_dir(self) -> Path:
        """The local directory holding the model's files."""
        self.card  # noqa: B018 - resolves once, setting _model_dir
        return self._model_dir  # type: ignore[return-value]

    # ---- checks ---------------------------------------------------------------------------
    def check(self, *, deep: bool = False) -> None:
        """Raise ``ModelDirectoryError`` (located at ``model``, ``dim``, ``precision`` or
        ``max_length``) when the model directory cannot serve this encoder; creates nothing.

        Light: the card (strict schema), every file it names (present, regular, non-empty, inside the
        directory), the graph of ``precision``, the tokenizer, the requested ``dim``. Deep: also load the
        graph (CPU) and tokenizer, compare the graph's inputs/outputs with the card, run one forward
        pass of ``min(max_length, 1024)`` tokens. ``hf://`` models are never downloaded: the light
        check reads only the name; the deep one checks the local cache's copy when there is one.
        """
        if self.model.startswith(HF_SCHEME):
            repo, _ = parse_hf(self.model)
            directory = cached(self.model, HUB_PATTERNS) if deep else None
            if directory is None:
                return
            card = self._with_overrides(card_for_snapshot(directory, repo))
        else:
            directory = local_directory(self.model)
            card = self._with_overrides(ModelCard.read(directory))
        graph = self._check_files(directory, card)
        if deep:
            self._check_loaded(directory, card, graph)

    def _check_files(self, directory: Path, card: ModelCard) -> Path:
        """The light checks; returns the graph file of ``precision``."""
        card.check_files(directory)
        card.file(directory, "tokenizer")
        if self.output == "sparse":
            check_mlm_head(card, self.model, self._dim)
        elif card.head == "mlm":
            raise ModelDirectoryError(f"model {card.name} was exported with its masked-LM head (its graph gives "
                                      f"vocabulary logits); use it with output: sparse", field="output")
        elif self.output != "tokens":
            card.check_dim(self._dim)
        elif self._dim is not None and self._dim != (card.token_dim or card.dim):
            raise ModelDirectoryError(f"dim {self._dim} does not match the token vectors of model {card.name}, "
                                      f"which are {card.token_dim or card.dim}-d", field="dim")
        if self.output == "tokens" and PROJECTION_FILE in card.files:
            card.file(directory, PROJECTION_FILE)
        if self.layers is None:
            return card.graph_file(directory, self.precision)
        key = depth_key(PRECISION_FILES[self.precision], self.layers)
        if key not in card.files:
            have = card.depths()
            raise ModelDirectoryError(
                f"model directory {directory} has no {self.layers}-layer {self.precision} graph ("
                + (f"its depths: {have}" if have else "it has no truncated graphs")
                + f"); add one with `embedspec export SRC {directory} --layers {self.layers} --add`",
                field="layers",
            )
        return card.file(directory, key)

    def _graph_output(self, session: Any, graph: Path, card: ModelCard, directory: Path) -> str:
        """The output to fetch, after checking the graph's inputs and outputs against the card."""
        output = card.output_name
        names = [o.name for o in session.get_outputs()]
        if output not in names and names and not (directory / CARD_FILE).is_file():
            output = names[0]  # an hf:// repo without a card: its card was guessed, not declared
        sparse = card.head == "mlm"
        check_graph(session, graph, inputs=TEXT_INPUTS, required=("input_ids",), output=output,
                    output_field="output_name", dim=card.vocab_size if sparse else card.dim,  # type: ignore[arg-type]
                    ranks=(3,) if sparse else (2, 3))
        return output

    def _tokenizer_for(self, directory: Path, card: ModelCard, max_length: int) -> TextTokenizer:
        return TextTokenizer(card.file(directory, "tokenizer"), max_length=max_length,
                             padding_side=card.padding_side, pad_token_id=card.pad_token_id)

    def _check_loaded(self, directory: Path, card: ModelCard, graph: Path) -> None:
        """The deep checks: the graph and tokenizer load and one forward pass gives ``(1, dim)``."""
        session = create_session(graph, device="cpu", threads=1)
        output = self._graph_output(session, graph, card, directory)
        tokenizer = self._tokenizer_for(directory, card, min(card.max_length, PROBE_TOKENS))
        batch = next(tokenizer.batches(tokenizer.tokenize([card.prompt("document") + "hello " * PROBE_TOKENS]), 1))
        (hidden,) = self._run(session, output, batch, graph, card)
        if self.output == "sparse":
            vectors = splade_weights(hidden, batch.attention_mask)
            check_output_dim(vectors.shape[-1], self.dim, graph, output)
        else:
            vectors = pool(hidden, batch.attention_mask, card.pooling)
            check_output_dim(vectors.shape[-1], card.dim, graph, output)
        if not np.isfinite(vectors).all():
            raise ModelDirectoryError(f"{graph}: a forward pass gave NaN or infinite values")

    def _run(self, session: Any, output: str, batch: Batch, graph: Path, card: ModelCard) -> list[Any]:
        """One batch through the graph; a failure names the graph, the shapes and ``max_length``."""
        feed = batch.feed([i.name for i in session.get_inputs()])
        at_limit = batch.input_ids.shape[1] >= min(card.max_length, PROBE_TOKENS)
        hint = f"; max_length {card.max_length} may exceed the positions the model takes" if at_limit else ""
        try:
            return run(session, [output], feed, graph, hint=hint)
        except ModelDirectoryError as exc:
            exc.field = "max_length" if self.max_length is not None else "model"
            raise

    def _warm_up(self) -> None:
        card, directory = self.card, self.model_dir
        graph = self._check_files(directory, card)
        self._session = create_session(graph, device=self.device, threads=self.threads)
        self._output = self._graph_output(self._session, graph, card, directory)
        self._tokenizer = self._tokenizer_for(directory, card, card.max_length)
        self._out_dim = card.check_dim(self._dim) if self.output == "pooled" else self.dim
        self._graph = graph
        if self.output == "tokens":
            self._warm_up_tokens(directory, card)

    def _warm_up_tokens(self, directory: Path, card: ModelCard) -> None:
        """The projection, the token rules and (with ``query_length``) the query tokenizer."""
        self._projection = None
        if PROJECTION_FILE in card.files:
            self._projection = Projection.read(card.file(directory, PROJECTION_FILE))
            if self._projection.weight.shape != (card.token_dim, card.dim):
                raise ModelDirectoryError(
                    f"{directory}: files.{PROJECTION_FILE} maps {self._projection.weight.shape[1]} -> "
                    f"{self._projection.weight.shape[0]}, the card says dim {card.dim} -> token_dim {card.token_dim}")
        raw = self._tokenizer.tokenizer
        mask_id = None
        self._query_tokenizer = self._tokenizer
        if self.query_length is not None:
            mask_id = mask_token_id(raw)
            if mask_id is None:
                raise ModelDirectoryError(f"{directory}: the tokenizer has no mask token ([MASK] or <mask>) for "
                                          "query augmentation", field="query_length")
            self._query_tokenizer = self._tokenizer_for(directory, card, min(self.query_length, card.max_length))
        self._rules = TokenRules(
            mask_id=mask_id, query_length=self.query_length, attend_to_mask=self.attend_to_mask,
            skip_ids=punctuation_ids(raw) if self.skip_punctuation else frozenset(), keep_special=self.keep_special,
        )

    @property
    def applied_device(self) -> str:
        """``cpu`` or ``cuda``: the provider the session actually runs on."""
        self.warm_up()
        return applied_device(self._session)

    @property
    def is_fitted(self) -> bool:
        return True

    # ---- encoding -------------------------------------------------------------------------
    def encode_tokens(self, texts: Sequence[str], role: Role, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(data (total_tokens, dim) float32, offsets (n + 1,) int64)`` of validated ``texts``."""
        self.warm_up()
        card = self.card
        prompt = card.prompt(role)
        texts = [prompt + t for t in texts] if prompt else list(texts)
        tokenizer = self._query_tokenizer if role == "query" else self._tokenizer
        rows = token_rows(tokenizer.tokenize(texts), self._rules, role)
        counts = check_not_empty(rows, f"role {role}")
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        out = np.empty((int(offsets[-1]), self.dim), dtype=np.float32)
        for batch, keep in padded_batches(rows, batch_size, tokenizer.pad_token_id, card.padding_side == "left"):
            (hidden,) = self._run(self._session, self._output, batch, self._graph, card)
            if hidden.ndim != 3:
                raise ModelDirectoryError(f"{self._graph}: output {self._output!r} is already pooled "
                                          f"(shape {list(hidden.shape)}); output: tokens needs (batch, seq, hidden)")
            vectors = token_vectors(hidden, keep, self._projection, card.normalize)
            place_tokens(out, offsets, batch.positions, counts[batch.positions], vectors)
        return out, offsets

    def _encode_all(self, texts: list[str], role: Role, batch_size: int) -> Any:
        """Sort the whole call by token length (not each chunk), run, restore the input order."""
        if self.output == "tokens":
            return MultiVectors(*self.encode_tokens(texts, role, batch_size))
        if self.output == "sparse":
            return self.encode_sparse(texts, role, batch_size)
        card = self.card
        prompt = card.prompt(role)
        if prompt:
            texts = [prompt + t for t in texts]
        encodings = self._tokenizer.tokenize(texts)
        out = np.empty((len(texts), self._out_dim), dtype=np.float32)
        for batch in self._tokenizer.batches(encodings, batch_size, self.batch_tokens):
            (hidden,) = self._run(self._session, self._output, batch, self._graph, card)
            vectors = pool(hidden, batch.attention_mask, card.pooling)
            if vectors.shape[1] != card.dim:  # a dynamic output axis: checked on the first batch
                check_output_dim(vectors.shape[1], card.dim, self._graph, self._output)
            vectors = vectors[:, : self._out_dim]
            out[batch.positions] = l2_normalize(vectors) if card.normalize else vectors
        return out

    def encode_sparse(self, texts: list[str], role: Role, batch_size: int) -> SparseVectors:
        """SPLADE-max rows (``dim`` = vocabulary size) of validated ``texts``, in input order; queries and
        documents alike (each with its prompt). Length-sorted batches, like pooled output."""
        card = self.card
        prompt = card.prompt(role)
        if prompt:
            texts = [prompt + t for t in texts]
        parts, positions = [], []
        for batch in self._tokenizer.batches(self._tokenizer.tokenize(texts), batch_size, self.batch_tokens):
            (logits,) = self._run(self._session, self._output, batch, self._graph, card)
            if logits.ndim != 3 or logits.shape[-1] != self._out_dim:
                raise ModelDirectoryError(f"{self._graph}: output {self._output!r} has shape {list(logits.shape)}; "
                                          f"output: sparse needs (batch, seq, {self._out_dim})")
            parts.append(sparse_rows(splade_weights(logits, batch.attention_mask), self.top_k))
            positions.append(np.asarray(batch.positions, dtype=np.int64))
        rows = SparseVectors.concat(parts) if len(parts) > 1 else parts[0]
        return rows.take(np.argsort(np.concatenate(positions), kind="stable"))

    def count_tokens(self, texts: Sequence[str], *, role: Role = "document") -> int:
        """Tokens the model sees for ``texts`` (after prompt and truncation)."""
        self.warm_up()
        prompt = self.card.prompt(role)
        return self._tokenizer.count_tokens([prompt + t for t in texts])

