"""``Users`` under its old import path."""

from ..users import Users, check_mobile

__all__ = ["Users", "check_mobile"]
