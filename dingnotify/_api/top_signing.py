"""TOP request signatures: sorted ``name+value`` pairs, upper-case hex."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def sign(params: Mapping[str, str], secret: str, sign_method: str = "md5", body: str = "") -> str:
    """The ``sign`` value for ``params`` (all of them but ``sign``; empty values skipped).

    ``md5`` wraps the string in the secret; ``hmac`` is HMAC-MD5 and ``hmac-sha256`` is
    HMAC-SHA256, both keyed with the secret. ``body`` is appended for JSON-body requests.
    """
    pairs = sorted((k, v) for k, v in params.items() if k and v and k != "sign")
    data = ("".join(k + v for k, v in pairs) + body).encode()
    key = secret.encode()
    if sign_method == "md5":
        digest = hashlib.md5(key + data + key).hexdigest()
    elif sign_method == "hmac":
        digest = hmac.new(key, data, hashlib.md5).hexdigest()
    elif sign_method == "hmac-sha256":
        digest = hmac.new(key, data, hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"sign_method must be one of {SIGN_METHODS}")
    return digest.upper()
