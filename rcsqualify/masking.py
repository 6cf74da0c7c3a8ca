"""Masking what a message quotes: URLs, credentials, phone numbers, tokens.

Error lines, logs and reports end up in CI logs and tickets. Each function here has one
guarantee, stated below and held by ``tests/test_masking.py``; pick the one that fits
what the text is:

- ``mask_url(url)``: a service URL for a message. Only ``scheme://host[:port]/path``
  is kept: no user, no password, no query (tokens and numbers travel there), no
  fragment; a run of 6+ digits in the path (a number, ``+``/``%2B`` included) becomes
  ``<number>``; made safe to print (``safe_text``) and at most 160 characters.
- ``redis_host(url)``: what a message names of a Redis URL: ``host:port[/db]``, never a
  user or a password; a URL that does not parse is a ``ConfigurationError`` (exit 2)
  that quotes no part of it.
- ``mask_redis_url(url)``: a Redis URL as its owner recognizes it: scheme, user (if
  any), ``***`` for a password, ``host:port[/db]``; never the password, refused like
  ``redis_host`` when it does not parse.
- ``mask_url_passwords(text)``: free text (an error line quoting what the user typed)
  with the password of every ``scheme://user:password@`` in it replaced by ``***``; the
  rest is left as written. A password holding ``@`` is masked whole.
- ``mask_name(name)``: a list's file name sent to a third party (an alert's payload, a
  metrics label): every French phone number in it (``0612345678``, ``06 12 34 56 78``,
  ``+33612345678``, ``0033…``, ``33612345678``) becomes ``<number>``; the rest, dates
  such as ``20261207`` included, is kept so the name stays recognizable.
- ``list_label(base)``: a list as alerts, the metrics and the refresh log name it:
  ``mask_name`` of its file name, ``@`` and the first 8 hex digits of the SHA-256 of
  its resolved absolute path (``contacts.csv@3f2a9c1e``); ``stdin`` for ``-``. Two
  lists of one file name in two folders get two labels (never one metric series nor
  one previous run); the same file keeps its label from run to run; no directory is
  shown.
- ``mask_secrets(text)``: free text from a server (which may echo what it was sent)
  with phone numbers in their usual written forms replaced by ``<number>`` and
  token-like runs (24+ base64/hex/url-safe characters) by ``<redacted>``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from rcsqualify.errors import ConfigurationError
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


def mask_webhook_url(url: str) -> str:
    """A webhook URL (``--notify``) fit for a message: its scheme and host only. Slack's
    and Teams' incoming-webhook URLs carry their secret in the path, so nothing of the
    path or query is kept."""
    try:  # urlsplit itself raises on "http://[…"
        parts = urlsplit(url)
        host = parts.hostname or "?"
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:  # a port or an IPv6 address that does not parse
        return "?://?/…"
    return safe_text(f"{parts.scheme}://{host}/…", 120)


def redis_host(url: str) -> str:
    """``host:port/db`` of a Redis URL: what messages name (never a user or password). A
    URL that does not parse (port 99999, ``[::1:1``) is exit 2, naming no part of it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or 6379
    except ValueError as exc:
        raise ConfigurationError(f"not a valid Redis URL (--cache-url, --quota-store): "
                                 f"{exc}; expected redis://host:port/db (rediss:// for TLS)"
                                 ) from None
    return f"{host}:{port}{parts.path if parts.path not in ('', '/') else ''}"


def mask_redis_url(url: str) -> str:
    """``scheme://user:***@host:port/db``: the user kept, the password never shown."""
    host = redis_host(url)  # first: a URL that does not parse is refused there
    parts = urlsplit(url)
    user = f"{unquote(parts.username)}:***@" if parts.username else (
        "***@" if parts.password else "")
    return f"{parts.scheme}://{user}{host}"


#: ``scheme://user:password@`` in anything a message quotes (a URL given where a path
#: was expected is echoed as given; Path folds ``//`` into ``/``). The password runs to
#: the last ``@`` before the host, as URL parsers read it: ``p@ss`` is one password
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*:/{1,2}[^/\s:@]*:)[^\s/]*@")


def mask_url_passwords(text: str) -> str:
    """``text`` with the password of every URL it quotes replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)


# a phone number as people write it: 8+ digits with separators, optional + or 00
_NUMBER = re.compile(r"(?:\+|%2B)?(?:\(?\d[\s.\-/()]{0,3}){7,}\d")
# a token, key or signature: a long run of base64/hex/url-safe characters
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~+/=]{24,}")


def mask_secrets(text: str) -> str:
    """``text`` with phone numbers (in any of their usual forms) and token-like strings
    replaced: a server may echo the number or the bearer token it was sent."""
    text = _NUMBER.sub("<number>", text)
    return _TOKEN.sub("<redacted>", text)


#: a French number as it may be written in a file name: 0 or +33/0033/33, a non-zero
#: digit, then eight digits with at most one space, dot or dash between them; never part
#: of a longer run of digits (so a date such as 20261207 or a time stamp is not one)
_NUMBER_IN_NAME = re.compile(r"(?<![\d+])(?:(?:\+|00)?33[ .\-]?|0)[1-9](?:[ .\-]?\d){8}(?!\d)")


def mask_name(name: str) -> str:
    """A list's file name with every French phone number in it replaced by ``<number>``
    (see the module's docstring): what leaves the machine in an alert or a metrics label
    must not carry a number, even one a user put in a file name."""
    return _NUMBER_IN_NAME.sub("<number>", name)


def list_label(base: str) -> str:
    """A list's label for alerts, metrics and the refresh log (see the module's
    docstring): unique per resolved path, stable across runs, no directory in clear."""
    import hashlib
    import os

    if base in ("", "-"):
        return "stdin"
    where = os.path.realpath(base)
    digest = hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    name = os.path.basename(os.path.normpath(base))  # the name given, even of a link
    return f"{mask_name(name)}@{digest}"
