"""The oapi channels under their old import path (each is a package of its own now)."""

from ..impaas import Impaas
from ..media import Media
from ..users import Users
from ..work_notice import WorkNotice

__all__ = ["Impaas", "Media", "Users", "WorkNotice"]
