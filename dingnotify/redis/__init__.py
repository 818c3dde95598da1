"""Several processes on one app: a shared token and shared quotas on Redis.

``pip install 'dingnotify[redis]'``, then in every process of the app::

    coordination = RedisCoordination.from_url("redis://127.0.0.1:6379/0", namespace="acme")
    async with DingTalkClient(key, secret, agent_id=1, quota=Quota.professional(),
                              coordination=coordination) as client:
        ...

DingTalk counts quotas per app, so processes that each pace themselves still draw 90018
and 90006 together, and above the recipients budget DingTalk silently delivers nothing.
Here one process fetches each token for all (a lock with expiry, released by its owner
only), and every call reserves its slot in windows kept in Redis by one atomic script.
Importing this module is the only thing that imports ``redis``.
"""

from ._coordination import RedisCoordination
from ._governor import RedisGovernor, local_share
from ._health import RedisConfigurationError
from ._token import RedisTokenLock, RedisTokenStore

__all__ = ["RedisConfigurationError", "RedisCoordination", "RedisGovernor", "RedisTokenLock",
           "RedisTokenStore", "local_share"]
