"""Keeping a secret (an API key, a Hub token) out of the messages built from a service's errors.

A client library's error text may echo request headers; anything shown to the user or logged passes here first.
"""

from __future__ import annotations


def redacted(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text
