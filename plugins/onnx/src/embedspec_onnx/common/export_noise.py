"""Quiet exports: the warnings torch, transformers and optimum print on every export are not the user's.

Tracing a model prints TracerWarnings (constants registered in the trace, by design for a fixed
graph), the legacy TorchScript exporter's DeprecationWarning, ``torch_dtype`` deprecation notices and
"requires accelerate" hints; none says anything about the exported model, whose vectors the export
verifies against the framework's forward pass anyway. ``quiet_export()`` silences exactly these
categories from these libraries for the duration of an export; any other warning still shows.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: Libraries whose routine export chatter is silenced (as module-name prefixes of where warnings come from).
NOISY_MODULES = r"(torch|transformers|optimum|onnx|onnxscript)(\..*)?"
NOISY_LOGGERS = ("transformers", "optimum", "torch.onnx")


@contextmanager
def quiet_export() -> Iterator[None]:
    """Silence the frameworks' routine export warnings and info logs inside the block."""
    for library in ("transformers.utils.logging", "optimum.utils.logging"):
        try:  # their root loggers get their level on first use: configure them now, so ours sticks
            importlib.import_module(library).get_logger()
        except ImportError:
            pass
    levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning, PendingDeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=NOISY_MODULES)
        # torch.onnx's UserWarnings on how an operator is lowered (e.g. aten::index with negative indices):
        # the export verifies the graph's vectors against the framework on sample inputs, which is the check.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx(\..*)?")
        warnings.filterwarnings("ignore", message=r".*(TracerWarning|trace might not generalize|registered as constants"
                                r"|Converting a tensor to a Python).*")
        try:
            from torch.jit import TracerWarning
        except ImportError:  # torch is only there for exports
            pass
        else:
            warnings.filterwarnings("ignore", category=TracerWarning)
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        try:
            yield
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
