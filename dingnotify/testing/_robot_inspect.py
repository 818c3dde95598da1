"""The robot part of ``Emulator``'s inspection surface, kept beside the robot code."""

from __future__ import annotations

from ._robot_state import RobotInboxMessage, RobotState


class RobotInspection:
    """Mixed into ``Emulator``: robot codes, inboxes and the robot state."""

    _robot: RobotState

    @property
    def robot(self) -> RobotState:
        """Robot state: ``sends``, ``robots``, ``flow_control_ratio``, ``filtered_userids``."""
        return self._robot

    @property
    def robot_code(self) -> str:
        """The default app's robot code (deterministic from the seed)."""
        return self._robot.default_code

    def add_robot(self, app_key: str | None = None, robot_code: str | None = None) -> str:
        """Register another robot (of the default app unless ``app_key``); returns its code."""
        owner = app_key if app_key is not None else self._robot.core.org.app.app_key
        return self._robot.add_robot(owner, robot_code)

    def robot_inbox(self, userid: str) -> list[RobotInboxMessage]:
        """One-to-one robot messages ``userid`` received, oldest first; recalled ones flagged."""
        return self._robot.inboxes.get(userid, [])

    def robot_group_messages(self, open_conversation_id: str) -> list[RobotInboxMessage]:
        """Robot messages sent to one group conversation, oldest first."""
        return self._robot.groups.get(open_conversation_id, [])
