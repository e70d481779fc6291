"""Where a ``model:`` value points: a local model directory, or ``hf://ORG/NAME[@REVISION]``.

``hf://`` downloads a pre-exported ONNX graph and its tokenizer with ``huggingface_hub``. A repo
that holds an ``embedspec.json`` is used as is; otherwise (e.g. ``sentence-transformers/...`` repos
with ``onnx/model.onnx``) the card comes from the catalogue, or from ``config.json`` with the
``generic`` family.
"""

from __future__ import annotations

import json
from pathlib import Path

from .card import CARD_FILE, ModelCard, ModelDirectoryError, local_directory
from .catalogue import find_entry, get_family, guess_family
from .runtime import require

HF_SCHEME = "hf://"
_PATTERNS = [
    CARD_FILE, "model.onnx", "model_int8.onnx", "model_fp16.onnx", "tokenizer.json", "config.json",
    "sentence_bert_config.json", "onnx/model.onnx", "onnx/tokenizer.json",
]


def parse_hf(model: str) -> tuple[str, str | None]:
    """``hf://ORG/NAME[@REVISION]`` -> (``ORG/NAME``, revision or None); checks the syntax only."""
    repo, _, revision = model[len(HF_SCHEME):].partition("@")
    org, _, name = repo.partition("/")
    if not org or not name or "/" in name or ".." in repo or (revision == "" and "@" in model):
        raise ModelDirectoryError(f"model {model!r}: expected hf://ORG/NAME[@REVISION]")
    return repo, revision or None


def resolve(model: str) -> tuple[Path, ModelCard]:
    """The model directory and its card for a ``model:`` value (``hf://`` downloads)."""
    if model.startswith(HF_SCHEME):
        repo, revision = parse_hf(model)
        directory = download(repo, revision)
        return directory, card_for_snapshot(directory, repo)
    path = local_directory(model)
    return path, ModelCard.read(path)


def cached(model: str, patterns: list[str] | None = None) -> Path | None:
    """The local cache's snapshot of an ``hf://`` model, or None when it is not cached; never downloads."""
    repo, revision = parse_hf(model)
    hub = require("huggingface_hub")
    try:
        return Path(hub.snapshot_download(repo_id=repo, revision=revision, allow_patterns=patterns or _PATTERNS,
                                          local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the cache (LocalEntryNotFoundError...)
        return None


def download(repo: str, revision: str | None = None, patterns: list[str] | None = None) -> Path:
    """Snapshot of the files the encoder needs; errors say when the hub is unreachable."""
    hub = require("huggingface_hub")
    try:
        return Path(hub.snapshot_download(repo_id=repo, revision=revision, allow_patterns=patterns or _PATTERNS))
    except Exception as exc:  # offline, unknown repo, auth...: one clear message
        raise ModelDirectoryError(
            f"cannot download hf://{repo} from the Hugging Face hub ({type(exc).__name__}: {exc}); "
            "the machine may be offline (HF_HUB_OFFLINE) -- export the model locally with "
            "`embedspec export` and point model: at the directory"
        ) from exc


def card_for_snapshot(directory: Path, repo: str) -> ModelCard:
    """The card of a downloaded repo: its own ``embedspec.json``, else one built from what is known."""
    if (directory / CARD_FILE).is_file():
        return ModelCard.read(directory)
    graph = next((p for p in ("model.onnx", "onnx/model.onnx") if (directory / p).is_file()), None)
    tokenizer = next((p for p in ("tokenizer.json", "onnx/tokenizer.json") if (directory / p).is_file()), None)
    if graph is None or tokenizer is None:
        raise ModelDirectoryError(
            f"hf://{repo} has no pre-exported ONNX graph and tokenizer.json (looked for model.onnx, "
            "onnx/model.onnx); export it locally with `embedspec export`"
        )
    files = {"model": graph, "tokenizer": tokenizer}
    entry = find_entry(repo)
    if entry is not None:
        return entry.card(files=files, export={"source": f"hf://{repo}"})
    config = _read_json(directory / "config.json")
    st_config = _read_json(directory / "sentence_bert_config.json")
    dim = config.get("hidden_size") or config.get("d_model")
    if not dim:
        raise ModelDirectoryError(f"hf://{repo}: config.json gives no hidden_size; cannot describe the model")
    fam = get_family(guess_family(repo))
    try:
        return ModelCard(
            name=repo, family=fam.name, architecture=fam.architecture, dim=int(dim), pooling=fam.pooling,
            normalize=fam.normalize, padding_side=fam.padding_side, query_prompt=fam.query_prompt,
            document_prompt=fam.document_prompt,
            max_length=int(st_config.get("max_seq_length") or min(config.get("max_position_embeddings", 512), 8192)),
            files=files, export={"source": f"hf://{repo}"},
        )
    except (TypeError, ValueError) as exc:  # ValidationError is a ValueError
        raise ModelDirectoryError(f"hf://{repo}: its config.json does not describe a usable model ({exc})") from None


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirectoryError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelDirectoryError(f"{path}: expected a JSON object, not {type(data).__name__}")
    return data
