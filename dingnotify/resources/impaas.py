"""``Impaas`` under its old import path."""

from ..impaas import Impaas

__all__ = ["Impaas"]
