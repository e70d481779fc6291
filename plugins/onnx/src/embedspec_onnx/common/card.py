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

Every file the card names must be a non-empty regular file inside the directory: absolute names,
``..`` and symlinks resolving outside it are refused (a Hugging Face cache snapshot may link into its
repo's ``blobs/``). Problems raise ``ModelDirectoryError``, a ``ResourceError`` located at ``model``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar, Literal

from embedspec.errors import EmbedspecError, ResourceError
from embedspec.storage import atomic_write_bytes
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CARD_FILE = "embedspec.json"
FORMAT_VERSION = 1
#: A card larger than this is not a card (it is read whole into memory).
MAX_CARD_BYTES = 1 << 20
#: Upper bounds of the card's sizes: beyond them a value is a typo, not a model.
MAX_DIM = 65_536
MAX_LENGTH = 131_072
Pooling = Literal["mean", "cls", "last-token"]
Precision = Literal["fp32", "fp16", "int8"]
#: ``files`` key of the graph for each precision.
PRECISION_FILES: dict[str, str] = {"fp32": "model", "fp16": "model_fp16", "int8": "model_int8"}
#: ``files`` keys of depth-truncated graphs (``text/depth.py``): ``model_layers3``, ``model_layers3_int8``.
DEPTH_KEY = re.compile(r"^model_layers(\d+)(_int8|_fp16)?$")


def depth_key(precision_key: str, layers: int) -> str:
    """The ``files`` key of a depth's graph: ``model`` -> ``model_layers3``, ``model_int8`` -> ``model_layers3_int8``."""
    return "model_layers" + str(layers) + precision_key.removeprefix("model")


class ModelDirectoryError(ResourceError):
    """A model directory or its ``embedspec.json`` is missing, invalid or incomplete.

    ``field`` is the spec field at fault: ``model`` (the directory) unless a spec override is
    (``dim``, ``precision``, ``max_length``).
    """

    def __init__(self, message: str, field: str | None = "model") -> None:
        super().__init__(message, field=field)


class ExportVerificationError(EmbedspecError, RuntimeError):
    """An export's graphs do not reproduce the source model (text and CLIP exports); nothing was written.

    ``max_abs_diff``: the largest absolute difference found (None when not measured).
    """

    def __init__(self, message: str, max_abs_diff: float | None = None) -> None:
        super().__init__(message)
        self.max_abs_diff = max_abs_diff


def path_text(value: Any) -> Any:
    """A ``model:`` value given as a path object, as its text."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


#: Before-validator of an encoder config's ``model`` field (``_model_text = MODEL_AS_TEXT``).
MODEL_AS_TEXT = field_validator("model", mode="before")(path_text)


def local_directory(model: str) -> Path:
    """``model:`` as an existing local directory (``~`` expanded), else ``ModelDirectoryError``."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if path.exists() or path.is_symlink():
        what = "a file" if path.is_file() else "a dangling symlink" if not path.exists() else "not a directory"
        raise ModelDirectoryError(f"model directory {path} is {what}, not a directory (point model: at the "
                                  "directory holding embedspec.json)")
    raise ModelDirectoryError(
        f"model directory {path} does not exist (export one with `embedspec export SRC {model}`, "
        "or use model: hf://ORG/NAME)"
    )


def _containment_root(directory: Path) -> Path:
    """Where the files of ``directory`` may live: the directory itself, or for a Hugging Face cache
    snapshot (``models--ORG--NAME/snapshots/REV``, whose files link into ``../../blobs``) its repo folder."""
    real = directory.resolve()
    if real.parent.name == "snapshots" and real.parent.parent.name.startswith("models--"):
        return real.parent.parent
    return real


def contained_file(directory: str | Path, name: str, what: str) -> Path:
    """``directory / name`` if ``name`` is a plain relative name that stays inside ``directory``
    (symlinks resolved); ``what`` names the card field in errors (``files.model``). Not checked:
    whether it exists."""
    directory = Path(directory)
    if not name or "\x00" in name:
        raise ModelDirectoryError(f"{what} {name!r} in {directory / CARD_FILE} is not a file name")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise ModelDirectoryError(
            f"{what} {name!r} is an absolute path; name files relative to the model directory {directory}"
        )
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise ModelDirectoryError(f"{what} {name!r} points outside the model directory {directory} ('..' is refused)")
    path = directory / name
    try:
        root, real = _containment_root(directory), path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before Python 3.13)
        raise ModelDirectoryError(f"{what} {name!r} in {directory} cannot be resolved: {exc}") from None
    if not real.is_relative_to(root):
        raise ModelDirectoryError(
            f"{what} {name!r} is a symlink to {real}, outside the model directory {directory} (refused)"
        )
    return path


def check_regular_file(path: Path, what: str) -> Path:
    """``path`` must be an existing, non-empty regular file (after symlinks)."""
    if not path.exists():
        raise ModelDirectoryError(f"model directory {path.parent} lacks {path.name} ({what})")
    if not path.is_file():
        raise ModelDirectoryError(f"{path} ({what}) is not a regular file")
    try:
        size = path.stat().st_size
        with path.open("rb"):  # readable (permissions), without reading it
            pass
    except OSError as exc:
        raise ModelDirectoryError(f"{path} ({what}) cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise ModelDirectoryError(f"{path} ({what}) is empty")
    return path


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


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
    #: Said after a wrong ``kind``: which reader the directory needs.
    KIND_HINT: ClassVar[str] = " (onnx-text reads text models; use onnx-clip for CLIP/SigLIP directories)"

    format_version: int = FORMAT_VERSION
    kind: str = "text"
    name: str = Field(description="model name, e.g. the Hugging Face id it was exported from")
    family: str = Field(description="catalogue family: minilm, e5, bge, gte, kalm, qwen3, generic...")
    architecture: Literal["encoder", "decoder"] = "encoder"
    dim: int = Field(gt=0, le=MAX_DIM, description="size of the pooled vector")
    pooling: Pooling = "mean"
    normalize: bool = True
    max_length: int = Field(512, gt=1, le=MAX_LENGTH, description="tokens per input, special tokens included")
    padding_side: Literal["left", "right"] = "right"
    query_prompt: str = ""
    document_prompt: str = ""
    matryoshka_dims: tuple[int, ...] = ()
    pad_token_id: int | None = None
    token_dim: int | None = Field(None, gt=0, le=MAX_DIM, description="size of the token vectors after "
                                  "files.projection (output: tokens); null: the hidden size, dim")
    output_name: str = "last_hidden_state"
    head: Literal["base", "mlm"] = Field("base", description="base: hidden states; mlm: the masked-LM head's "
                                         "logits over the vocabulary (output: sparse, `embedspec export --sparse`)")
    vocab_size: int | None = Field(None, gt=0, le=MAX_DIM * 64, description="head mlm: size of the logits' last "
                                   "axis (the sparse space)")
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
        if ("projection" in self.files) != (self.token_dim is not None):
            raise ValueError("files.projection and token_dim go together (the projection's output size)")
        if (self.head == "mlm") != (self.vocab_size is not None):
            raise ValueError("head: mlm and vocab_size go together (the masked-LM logits' size)")
        bad = [d for d in self.matryoshka_dims if not 0 < d <= self.dim]
        if bad:
            raise ValueError(f"matryoshka_dims {bad} must be in 1..dim ({self.dim})")
        return self

    # ---- reading / writing ----------------------------------------------------------------
    @classmethod
    def read(cls, directory: str | Path) -> ModelCard:
        """Parse ``directory/embedspec.json`` strictly (JSON types, no duplicate keys); errors name
        the file and the field."""
        directory = Path(directory)
        path = contained_file(directory, CARD_FILE, "the card")
        if not path.exists():
            raise ModelDirectoryError(
                f"{directory} is not an embedspec model directory: {CARD_FILE} is missing "
                f"(create one with `embedspec export SRC {directory}`)"
            )
        check_regular_file(path, "the model card")
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise ModelDirectoryError(f"{path} is {size} bytes: not a model card (at most {MAX_CARD_BYTES})")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ModelDirectoryError(f"{path} cannot be read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelDirectoryError(f"{path}: not UTF-8 text (byte {exc.start}): not a model card") from None
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise ModelDirectoryError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        except _DuplicateKey as exc:
            raise ModelDirectoryError(f"{path}: key {exc.args[0]!r} appears twice") from None
        except RecursionError:
            raise ModelDirectoryError(f"{path}: JSON nested too deeply: not a model card") from None
        if not isinstance(data, dict):
            raise ModelDirectoryError(f"{path}: a model card is a JSON object, not {type(data).__name__}")
        kind = data.get("kind", cls.KIND)
        if kind != cls.KIND:  # before the fields: another kind's card fails on them for the wrong reason
            raise ModelDirectoryError(f"{path}: kind: kind is {kind!r}, this reader needs {cls.KIND!r}{cls.KIND_HINT}")
        try:
            return cls.model_validate_json(text, strict=True)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()
            )
            raise ModelDirectoryError(f"{path}: {problems}") from None

    def write(self, directory: str | Path) -> Path:
        """Write ``embedspec.json`` atomically (a new file renamed over the old one, never written through)."""
        path = Path(directory) / CARD_FILE
        text = json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False) + "\n"
        atomic_write_bytes(path, text.encode("utf-8"))
        path.chmod(0o644)  # readable by all, as a plain write would leave it
        return path

    # ---- queries --------------------------------------------------------------------------
    def file(self, directory: str | Path, key: str) -> Path:
        """Path of file ``key`` (``model``, ``model_int8``, ``tokenizer``...): a non-empty regular
        file inside ``directory``."""
        name = self.files.get(key)
        if name is None:
            raise ModelDirectoryError(
                f"{Path(directory) / CARD_FILE} lists no {key!r} file (files: {sorted(self.files)})"
            )
        return check_regular_file(contained_file(directory, name, f"files.{key}"), f"files.{key}")

    def check_files(self, directory: str | Path) -> None:
        """Every file named in ``files`` is a non-empty regular file inside ``directory``."""
        for key in self.files:
            self.file(directory, key)

    def graph_file(self, directory: str | Path, precision: str) -> Path:
        key = PRECISION_FILES.get(precision)
        if key is None:
            raise ModelDirectoryError(f"unknown precision {precision!r}; choose one of {sorted(PRECISION_FILES)}",
                                      field="precision")
        if key not in self.files:
            hint = " (export with --quantize int8)" if precision == "int8" else ""
            raise ModelDirectoryError(
                f"model directory {directory} has no {precision} graph{hint}",
                field="precision",
            )
        return self.file(directory, key)

    def depths(self) -> list[int]:
        """The depths (layers) whose fp32 graph the card names, ascending."""
        return sorted({int(m.group(1)) for key in self.files if (m := DEPTH_KEY.match(key)) and not m.group(2)})

    def prompt(self, role: str) -> str:
        return self.query_prompt if role == "query" else self.document_prompt

    def check_dim(self, dim: int | None) -> int:
        """The output dimension for a requested Matryoshka ``dim`` (None: the full one).

        Truncation is allowed only to one of the card's ``matryoshka_dims``: a model not trained for
        it is truncated only by an explicit ``matryoshka`` compressor in the spec.
        """
        if dim is None or dim == self.dim:
            return self.dim
        if not 0 < dim <= self.dim:
            raise ModelDirectoryError(f"dim {dim} is out of range: model {self.name} produces {self.dim}-d vectors",
                                      field="dim")
        if self.matryoshka_dims and dim not in self.matryoshka_dims:
            raise ModelDirectoryError(
                f"dim {dim} is not one of the Matryoshka dims model {self.name} was trained for: "
                f"{list(self.matryoshka_dims)}", field="dim",
            )
        if not self.matryoshka_dims:
            raise ModelDirectoryError(
                f"model {self.name} declares no Matryoshka dims; truncating it to {dim} would lose quality "
                "(add matryoshka_dims to embedspec.json if the model was trained for it, or truncate "
                "explicitly with a `matryoshka` compressor)", field="dim",
            )
        return dim

    def replace(self, **changes: Any) -> ModelCard:
        """A validated copy with ``changes`` applied."""
        return type(self).model_validate({**self.model_dump(), **changes})
