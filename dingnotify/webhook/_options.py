"""The keywords ``WebhookRobot`` had before it ran on the shared stack, for one release.

``max_retries=``, ``max_rate_limited_retries=`` and ``retry_delay=`` become a
``RetryPolicy``; ``limiter=`` becomes the robot's budget. One ``DeprecationWarning`` names
the line that called the constructor, as ``dingnotify._options`` does for the pool knobs.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, TypedDict

from .._constants import DEFAULT_MAX_ATTEMPTS
from .._errors import ValidationError
from .._retry import RetryPolicy
from ._pacing import SlidingWindowLimiter

# A 130101 closes the robot for a minute: two more tries (as before) bound a send to
# about three minutes, where the default policy's twelve would take twelve.
RATE_LIMIT_ATTEMPTS = 3
_REPLACEMENT = {"max_retries": "max_attempts", "max_rate_limited_retries": "rate_limit_attempts",
                "retry_delay": "base_delay"}


class RobotKeywords(TypedDict, total=False):
    """The deprecated keywords of ``WebhookRobot``."""

    max_retries: int
    max_rate_limited_retries: int
    retry_delay: float
    limiter: SlidingWindowLimiter


def default_policy() -> RetryPolicy:
    """The robot's default: transport failures as everywhere, 130101 three times at most."""
    return RetryPolicy(rate_limit_attempts=RATE_LIMIT_ATTEMPTS)


def legacy_options(
    retry: RetryPolicy | None,
    budget_given: bool,
    deprecated: Mapping[str, Any],
    *,
    stacklevel: int,
) -> tuple[RetryPolicy | None, SlidingWindowLimiter | None]:
    """The policy and window the old keywords spell, after one warning (none: as given).

    ``stacklevel`` is what ``warnings.warn`` would take in the caller of this function."""
    for name in deprecated:
        if name not in RobotKeywords.__annotations__:
            raise TypeError(f"WebhookRobot() got an unexpected keyword argument {name!r}")
    if not deprecated:
        return retry, None
    retrying = [name for name in _REPLACEMENT if name in deprecated]
    if retrying and retry is not None:
        raise ValidationError(f"give retry= or {'=, '.join(retrying)}=, not both")
    limiter = deprecated.get("limiter")
    if limiter is not None and budget_given:
        raise ValidationError("give governor=/coordination= or limiter=, not both")
    advice = [f"retry=RetryPolicy({', '.join(f'{_REPLACEMENT[n]}=...' for n in retrying)})"
              ] if retrying else []
    if "limiter" in deprecated:
        advice.append("governor=... (the robot's budget)")
    warnings.warn(
        f"WebhookRobot({'=, '.join(deprecated)}=) is deprecated and will be removed in the "
        f"next release; pass {' and '.join(advice)}",
        DeprecationWarning, stacklevel=stacklevel + 1,
    )
    return (_policy(deprecated) if retrying else retry), limiter


def _policy(old: Mapping[str, Any]) -> RetryPolicy:
    """``max_retries`` counted retries; ``max_attempts`` counts the first try too."""
    return RetryPolicy(
        max_attempts=old.get("max_retries", DEFAULT_MAX_ATTEMPTS - 1) + 1,
        rate_limit_attempts=old.get("max_rate_limited_retries", RATE_LIMIT_ATTEMPTS - 1) + 1,
        base_delay=old.get("retry_delay", RetryPolicy.base_delay),
    )
