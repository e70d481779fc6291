"""embedspec: a plugin-based embedding SDK driven by a declarative YAML spec.

    import embedspec
    pipeline = embedspec.build("spec.yaml")
    pipeline.add(["first document", "second document"])
    hits = pipeline.search(["a query"], k=5)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "build": "pipeline",
    "Pipeline": "pipeline",
    "load_spec": "spec",
    "Spec": "spec",
    "load_plugins": "plugins",
    "get_registry": "plugins",
    "Hit": "protocols",
    "Encoder": "protocols",
    "Index": "protocols",
    "Aligner": "protocols",
    "Compressor": "protocols",
    "BaseEncoder": "base",
    "BaseIndex": "base",
    "BaseCompressor": "base",
    "BaseAligner": "base",
    "Quantizer": "base",
    "ComponentConfig": "registry",
    "hookimpl": "hookspecs",
    "EmbedspecError": "errors",
    "SpecError": "errors",
    "PluginError": "errors",
    "UnknownComponentError": "errors",
    "NotFittedError": "errors",
    "DimensionMismatchError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'embedspec' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
