"""Users (``client.users``): look up userids by mobile number."""

from ._models import MobileLookup
from ._resource import Users, check_mobile

__all__ = ["MobileLookup", "Users", "check_mobile"]
