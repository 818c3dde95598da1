"""An exclusive, process-owned lock beside a file (``FILE.lock`` holding the owner's pid).

The lock is the operating system's own: ``flock`` on POSIX, ``msvcrt.locking`` on Windows.
Both belong to the open file, so the kernel drops them when the process dies, SIGKILL
included: a stale ``.lock`` file never blocks the next run. Written here rather than taken
from ``filelock`` because the CLI has no required dependency of its own (``rich`` is
optional) and twenty lines cover the one thing needed: try once, never wait, say who holds
it. The platform module is imported when a lock is taken, not when the CLI is imported, so
``dingnotify --version`` works wherever Python does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Windows locks are mandatory: the pid at the start of the file must stay readable, so the
# lock covers one byte far past it (locking beyond the end of a file is allowed there).
_WINDOWS_LOCK_OFFSET = 1 << 20


class LockedError(Exception):
    """Another live process holds the lock."""

    def __init__(self, path: Path, pid: str) -> None:
        super().__init__(f"{path} is in use by pid {pid or '?'}")
        self.pid = pid


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting; False if another holder has it."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class FileLock:
    """``with FileLock(path):`` or ``acquire()``/``release()``; never waits."""

    def __init__(self, target: Path) -> None:
        self.path = target.with_name(target.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise ``LockedError`` naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            pid = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise LockedError(self.path, pid)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
