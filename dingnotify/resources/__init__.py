"""One module per DingTalk API group, each a thin attribute of ``DingTalkClient``."""

from .impaas import Impaas
from .media import Media
from .users import Users
from .work_notice import WorkNotice

__all__ = ["Impaas", "Media", "Users", "WorkNotice"]
