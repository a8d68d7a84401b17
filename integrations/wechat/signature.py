"""WeChat request signatures: SHA-1 over the sorted parts, compared in constant time.

wechatpy's own checks compare with `!=`, which leaks timing; these helpers replace them.
"""
from __future__ import annotations

import hashlib
import hmac


def sign(*parts: str) -> str:
    """The signature WeChat computes: sha1 of the sorted parts joined without separator."""
    return hashlib.sha1("".join(sorted(str(p) for p in parts)).encode("utf-8")).hexdigest()


def verify(signature: str, *parts: str) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(sign(*parts).encode(), signature.strip().lower().encode("utf-8", "replace"))
