"""Masking what a message quotes: URLs, credentials, phone numbers, tokens.

Error lines and logs end up in CI logs and tickets; each function here says what it
guarantees to hide, and every message that quotes a URL or a server's words goes through
one of them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rcsqualify.textsafe import safe_text

if TYPE_CHECKING:
    import httpx


def mask_url(url: str | httpx.URL) -> str:
    """A URL fit for a message: no user info, no query, digit runs (numbers) masked."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = re.sub(r"(%2B|\+)?\d{6,}", "<number>", parts.path)
    return safe_text(f"{parts.scheme}://{host}{path}", 160)

