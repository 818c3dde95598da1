"""``WorkNotice`` under its old import path."""

from ..work_notice import WorkNotice, check_task_id, parse_send_result

__all__ = ["WorkNotice", "check_task_id", "parse_send_result"]
