"""onnxruntime sessions: lazy imports naming the extra to install, providers, threads, checks."""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Collection
from pathlib import Path
from types import ModuleType
from typing import Any

from embedspec.errors import EmbedspecError
from embedspec.machine import physical_cores

from .card import CARD_FILE, ModelDirectoryError

#: Which extra provides each heavy module.
EXTRAS: dict[str, str] = {
    "onnxruntime": "cpu",  # or gpu (onnxruntime-gpu)
    "tokenizers": "cpu",
    "huggingface_hub": "cpu",
    "PIL": "cpu",
    "optimum": "export",
    "transformers": "export",
    "torch": "export",
    "onnx": "export",
    "onnx_ir": "export",
    "safetensors": "export",
}


class MissingDependencyError(EmbedspecError, ImportError):
    """A heavy library this component needs is not installed; the message names the extra."""


class ProviderError(EmbedspecError, RuntimeError):
    """The requested execution provider (device) did not apply to the session."""


def require(module: str) -> ModuleType:
    """Import ``module`` or raise ``MissingDependencyError`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = EXTRAS.get(top, "cpu")
        hint = (
            "pip install 'embedspec-onnx[cpu]' (or [gpu] for CUDA)"
            if extra == "cpu"
            else f"pip install 'embedspec-onnx[{extra}]'"
        )
        raise MissingDependencyError(f"{module} is required here but not importable ({exc}); {hint}") from exc


def parse_device(device: str) -> tuple[str, int]:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> (kind, device id)."""
    if device in ("auto", "cpu", "cuda"):
        return device, 0
    if device.startswith("cuda:") and device[5:].isdigit():
        return "cuda", int(device[5:])
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', not {device!r}")


def create_session(model_path: Path, *, device: str = "auto", threads: int | None = None) -> Any:
    """An ``InferenceSession`` on ``device``; checks which provider actually applied.

    ``cuda`` that does not apply raises ``ProviderError``; ``auto`` falls back to CPU with a warning.
    """
    ort = require("onnxruntime")
    kind, device_id = parse_device(device)
    available = ort.get_available_providers()
    want_cuda = kind == "cuda" or (kind == "auto" and "CUDAExecutionProvider" in available)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = threads or physical_cores()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    providers: list[Any] = ["CPUExecutionProvider"]
    if want_cuda:
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": device_id}))
        if hasattr(ort, "preload_dlls"):  # onnxruntime-gpu >= 1.21: CUDA/cuDNN from nvidia-* wheels
            try:
                ort.preload_dlls()
            except Exception:  # noqa: BLE001 - the provider check below reports what failed
                pass
    try:
        session = ort.InferenceSession(str(model_path), sess_options=opts, providers=providers)
    except Exception as exc:  # noqa: BLE001 - InvalidProtobuf, Fail, InvalidGraph...: the file is at fault
        raise ModelDirectoryError(
            f"onnxruntime cannot load the ONNX graph {model_path}: {runtime_message(exc)}"
        ) from exc
    applied = session.get_providers()
    if want_cuda and "CUDAExecutionProvider" not in applied:
        msg = (
            f"CUDAExecutionProvider did not apply to {model_path.name} (session providers: {applied}; "
            f"onnxruntime {ort.__version__} offers {available}). Install 'embedspec-onnx[gpu]' "
            "(onnxruntime-gpu, not onnxruntime) with a CUDA/cuDNN matching it"
        )
        if kind == "cuda":
            raise ProviderError(msg)
        warnings.warn(msg + "; falling back to CPU", RuntimeWarning, stacklevel=3)
    return session


def applied_device(session: Any) -> str:
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"


def run(session: Any, outputs: list[str], feed: dict[str, Any], path: Path, hint: str = "") -> list[Any]:
    """``session.run`` whose failure is a ``ModelDirectoryError`` naming the graph and the input shapes
    (onnxruntime's own error log is silenced: the exception says it)."""
    global _QUIET
    if _QUIET is None:
        _QUIET = require("onnxruntime").RunOptions()
        _QUIET.log_severity_level = 4
    try:
        return session.run(outputs, feed, _QUIET)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's Fail / InvalidArgument / RuntimeException
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in feed.items())
        raise ModelDirectoryError(f"{path}: a forward pass failed on {shapes} ({runtime_message(exc)}){hint}") from exc


_QUIET: Any = None


def runtime_message(exc: BaseException) -> str:
    """One line of an onnxruntime / tokenizers error, without its ``[ONNXRuntimeError] : N :`` prefix."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : ", "", text)
    return text if len(text) <= 300 else text[:297] + "..."


def check_graph(
    session: Any, path: Path, *, inputs: Collection[str], required: Collection[str], output: str,
    output_field: str, dim: int, ranks: Collection[int] = (2, 3),
) -> tuple[Any, ...]:
    """The graph's inputs are among ``inputs`` and include ``required``; it has ``output`` (named by
    the card's ``output_field``) of a rank in ``ranks`` whose last axis, when static, is ``dim``.
    Returns that output's shape (ints, or names for dynamic axes)."""
    names = [i.name for i in session.get_inputs()]
    unknown = [n for n in names if n not in inputs]
    if unknown:
        raise ModelDirectoryError(f"{path}: the graph takes input(s) {unknown} that this encoder cannot feed "
                                  f"(it feeds {sorted(inputs)})")
    missing = [n for n in required if n not in names]
    if missing:
        raise ModelDirectoryError(f"{path}: the graph lacks input(s) {missing} (its inputs: {names})")
    outputs = {o.name: o for o in session.get_outputs()}
    if output not in outputs:
        raise ModelDirectoryError(f"{path}: {output!r} ({output_field} in {CARD_FILE}) is not an output of "
                                  f"the graph (outputs: {sorted(outputs)})")
    shape = tuple(outputs[output].shape)
    if len(shape) not in ranks:
        raise ModelDirectoryError(f"{path}: output {output!r} has shape {list(shape)}; expected rank "
                                  f"{' or '.join(map(str, sorted(ranks)))}")
    check_output_dim(shape[-1], dim, path, output)
    return shape


def check_output_dim(actual: Any, dim: int, path: Path, output: str) -> None:
    """A static (int) output size must equal the card's ``dim``: never truncate or pad silently."""
    if isinstance(actual, int) and actual != dim:
        raise ModelDirectoryError(
            f"{path}: the graph's output {output!r} has dimension {actual}, but {CARD_FILE} says dim {dim} "
            "(fix dim in the card; to truncate a Matryoshka model set dim: in the spec)"
        )
