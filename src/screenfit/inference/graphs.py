"""PyTensor graph helpers that moved between the PyTensor versions screenfit supports."""

from __future__ import annotations

try:
    from pytensor.graph.traversal import ancestors
except ImportError:  # PyTensor before the graph helpers moved (``basic`` warns since)
    from pytensor.graph.basic import ancestors  # type: ignore[no-redef]

__all__ = ["ancestors"]
