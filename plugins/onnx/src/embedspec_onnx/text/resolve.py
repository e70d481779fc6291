"""Where an ``onnx-text`` ``model:`` value points: a local model directory, or ``hf://ORG/NAME[@REV]``.

``hf://`` downloads a pre-exported ONNX graph and its tokenizer (``common.hub``). A repo that holds
an ``embedspec.json`` is used as is; otherwise (e.g. ``sentence-transformers/...`` repos with
``onnx/model.onnx``) the card comes from the catalogue, or from ``config.json`` with the ``generic``
family.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..common.card import CARD_FILE, ModelCard, ModelDirectoryError, local_directory
from ..common.hub import HF_SCHEME, download, parse_hf
from .catalogue import find_entry, get_family, guess_family

#: The files of a text model repo on the hub.
HUB_PATTERNS = [
    CARD_FILE, "model.onnx", "model_int8.onnx", "model_fp16.onnx", "tokenizer.json", "config.json",
    "sentence_bert_config.json", "onnx/model.onnx", "onnx/tokenizer.json",
]


def resolve(model: str) -> tuple[Path, ModelCard]:
    """The model directory and its card for a ``model:`` value (``hf://`` downloads)."""
    if model.startswith(HF_SCHEME):
        repo, revision = parse_hf(model)
        directory = download(repo, revision, HUB_PATTERNS)
        return directory, card_for_snapshot(directory, repo)
    path = local_directory(model)
    return path, ModelCard.read(path)


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
