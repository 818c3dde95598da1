"""``dingnotify serve``: a durable notification relay for systems that can only POST.

``pip install 'dingnotify[relay]'``. Alertmanager (``POST /alertmanager``) and anything
else (``POST /notify``) reach people through routes in ``relay.toml``; every accepted
notification is committed to a sqlite queue first and delivered through one
``DingTalkClient`` (quotas, retries, results confirmed)::

    config = load_config("relay.toml")
    async with DingTalkClient(key, secret, agent_id=1) as client, Relay(config, client):
        ...

    _config         relay.toml, checked once        _queue     the durable queue
    _template       a data-only template language   _messages  messages cut per channel
    _alertmanager   payload -> one item per route   _notify    POST /notify
    _http           auth, limits, answers           _deliver   sending, confirming
    _channels       one row through the SDK         _digest    group robot digests
    _metrics        /metrics                        _serve     Relay
"""

from ._config import Recipients, RelayConfig, RelayConfigError, Route, Token, load_config
from ._queue import QueueError
from ._serve import DEFAULT_HOST, DEFAULT_PORT, Relay
from ._template import Template, TemplateError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "QueueError",
    "Recipients",
    "Relay",
    "RelayConfig",
    "RelayConfigError",
    "Route",
    "Template",
    "TemplateError",
    "Token",
    "load_config",
]
