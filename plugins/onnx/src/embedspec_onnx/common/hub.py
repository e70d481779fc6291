"""``hf://ORG/NAME[@REVISION]`` model values: parse them, find a cached snapshot, download one.

Each encoder names the files it needs (``patterns``); what a snapshot's card is comes from the
encoder (``text.resolve``, ``clip.encoder``). ``huggingface_hub`` is imported on first use.
"""

from __future__ import annotations

from pathlib import Path

from .card import ModelDirectoryError
from .runtime import require

HF_SCHEME = "hf://"


def parse_hf(model: str) -> tuple[str, str | None]:
    """``hf://ORG/NAME[@REVISION]`` -> (``ORG/NAME``, revision or None); checks the syntax only."""
    repo, _, revision = model[len(HF_SCHEME):].partition("@")
    org, _, name = repo.partition("/")
    if not org or not name or "/" in name or ".." in repo or (revision == "" and "@" in model):
        raise ModelDirectoryError(f"model {model!r}: expected hf://ORG/NAME[@REVISION]")
    return repo, revision or None


def cached(model: str, patterns: list[str]) -> Path | None:
    """The local cache's snapshot of an ``hf://`` model, or None when it is not cached; never downloads."""
    repo, revision = parse_hf(model)
    hub = require("huggingface_hub")
    try:
        return Path(hub.snapshot_download(repo_id=repo, revision=revision, allow_patterns=patterns,
                                          local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the cache (LocalEntryNotFoundError...)
        return None


def download(repo: str, revision: str | None, patterns: list[str]) -> Path:
    """Snapshot of the files ``patterns`` name (the ones the encoder needs); errors say when the hub
    is unreachable."""
    hub = require("huggingface_hub")
    try:
        return Path(hub.snapshot_download(repo_id=repo, revision=revision, allow_patterns=patterns))
    except Exception as exc:  # offline, unknown repo, auth...: one clear message
        raise ModelDirectoryError(
            f"cannot download hf://{repo} from the Hugging Face hub ({type(exc).__name__}: {exc}); "
            "the machine may be offline (HF_HUB_OFFLINE) -- export the model locally with "
            "`embedspec export` and point model: at the directory"
        ) from exc
