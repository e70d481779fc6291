"""``embedspec serve``: an OpenAI-compatible embeddings and search server for any spec.

    from embedspec.serve import create_app
    app = create_app("spec.yaml")        # an ASGI app: uvicorn.run(app, host="127.0.0.1", port=8000)

Needs the ``serve`` extra (``pip install 'embedspec[serve]'``: starlette, uvicorn, prometheus_client);
importing this package does not import them, ``create_app`` does.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from ..errors import EmbedspecError
from .config import ServeSettings

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["MissingServeDependency", "ServeSettings", "app_from_env", "create_app", "require_serve_extra"]

#: The modules the ``serve`` extra installs (import name -> distribution).
SERVE_MODULES = {"starlette": "starlette", "uvicorn": "uvicorn", "prometheus_client": "prometheus-client"}


class MissingServeDependency(EmbedspecError, ImportError):
    """A library of the ``serve`` extra is not installed; the message says what to install."""


def require_serve_extra() -> None:
    """Raise ``MissingServeDependency`` naming what to install when a server library is missing."""
    missing = [dist for module, dist in SERVE_MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingServeDependency(f"embedspec serve needs {', '.join(missing)}: pip install 'embedspec[serve]'")


def create_app(spec: Any, settings: Any = None, **overrides: Any) -> Starlette:
    """The ASGI app serving ``spec`` (see ``embedspec.serve.app.create_app``)."""
    require_serve_extra()
    from .app import create_app as _create_app

    return _create_app(spec, settings, **overrides)


def app_from_env() -> Starlette:
    """The app for ``$EMBEDSPEC_SERVE_SPEC`` (``uvicorn --factory embedspec.serve:app_from_env``)."""
    require_serve_extra()
    from .app import app_from_env as _app_from_env

    return _app_from_env()
