"""embedspec-qdrant: the ``qdrant-edge`` (embedded) and ``qdrant`` (server, cluster) indexes.

Importing this package imports neither ``qdrant_edge`` nor ``qdrant_client``: they are imported
when an index is first used.
"""

from __future__ import annotations

__version__ = "0.1.0"
