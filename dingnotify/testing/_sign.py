"""TOP request signatures, written from the protocol text (not shared with the client).

concat = every parameter except ``sign``, empty values skipped, sorted by name (byte order),
joined as ``name + value``; then ``md5``: MD5(secret + concat + secret), ``hmac``:
HMAC-MD5(secret, concat), ``hmac-sha256``: HMAC-SHA256(secret, concat); upper-case hex.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGN_METHODS = ("md5", "hmac", "hmac-sha256")


def sign_concat(params: Mapping[str, str]) -> str:
    return "".join(f"{k}{v}" for k, v in sorted(params.items(), key=lambda kv: kv[0].encode())
                   if k != "sign" and k and v)


def top_sign(params: Mapping[str, str], secret: str, sign_method: str | None = None) -> str:
    """The signature TOP expects for ``params`` (``sign_method`` defaults to the param)."""
    method = sign_method or params.get("sign_method") or "md5"
    data = sign_concat(params).encode()
    key = secret.encode()
    if method == "md5":
        return hashlib.md5(key + data + key).hexdigest().upper()
    if method == "hmac":
        return hmac.new(key, data, hashlib.md5).hexdigest().upper()
    if method == "hmac-sha256":
        return hmac.new(key, data, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"unsupported sign_method {method!r}")


def verify(params: Mapping[str, str], secret: str) -> bool:
    """Constant-time, case-insensitive comparison with the ``sign`` parameter."""
    given = params.get("sign", "")
    try:
        expected = top_sign(params, secret)
    except ValueError:
        return False
    return hmac.compare_digest(given.upper().encode(), expected.encode())
