"""The layout version of what rcsqualify keeps (answers, quota schedule, cache key),
below every store and the quota schedule that check it.

3: answers keyed by SipHash (``remote/keys.py``); a store of layout 2 (HMAC-SHA256 keys)
is upgraded when opened, its spaces renamed under ``LEGACY``.
"""

from __future__ import annotations

from rcsqualify.errors import ConfigurationError
from rcsqualify.textsafe import safe_text

#: the layout this version reads and writes
LAYOUT = "3"
#: layouts a store is upgraded from when opened
UPGRADABLE = ("2",)
#: the prefix of a space written with layout 2's keys (HMAC-SHA256), kept after upgrade
LEGACY = "v2|"


def check_layout(found: str | None, where: str) -> None:
    if found is not None and found != LAYOUT and found not in UPGRADABLE:
        raise ConfigurationError(
            f"{where} has cache layout version {safe_text(found, 20)}; this rcsqualify "
            f"reads layout {LAYOUT}: use the rcsqualify that wrote it, or another cache")
