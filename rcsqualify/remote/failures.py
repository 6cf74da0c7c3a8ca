"""What can go wrong with a request, and the one line that says so.

The exceptions the HTTP layer, the token sources and the providers share
(``Transient`` is retried, ``Unresolved`` is a number left unverified, ``Unrecognized``
an answer we cannot read), and the functions that turn a transport failure or an error
body into words naming the settings that decide it (proxy, CA bundle).
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from rcsqualify.errors import ConfigurationError
from rcsqualify.masking import mask_secrets, mask_url
from rcsqualify.remote.answers import says_failed
from rcsqualify.textsafe import safe_text

#: transport failures that say "this address is wrong or unreachable", not "busy"
CONNECT_KINDS = ("refused", "dns", "tls", "proxy", "connect_timeout", "connect")
#: transport failures that no number can get past (they stop a run early, and a token
#: endpoint failing so is a configuration error)
UNREACHABLE_KINDS = (*CONNECT_KINDS, "timeout", "unsupported")
_DESCRIBE = {
    "refused": "connection refused",
    "dns": "the host name does not resolve (DNS)",
    "tls": "TLS handshake failed (certificate or protocol)",
    "proxy": "the proxy refused or failed the connection",
    "connect_timeout": "no answer to the connection attempt (timeout)",
    "connect": "cannot connect",
    "timeout": "no complete answer within --timeout",
    "unsupported": "the URL is not an http:// or https:// address",
}


class Transient(Exception):
    """A failure worth retrying (5xx, 408, timeout, reset, truncated JSON)."""

    def __init__(self, kind: str, detail: str = "", retry_after: float | None = None
                 ) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.retry_after = retry_after  # a valid Retry-After that came with it


class Unresolved(Exception):
    """No usable answer for this request: the caller records the number as data."""

    def __init__(self, kind: str, *, counted: bool = False) -> None:
        super().__init__(kind)
        self.kind = kind
        self.counted = counted  # already in the provider's error counts


class Unrecognized(Exception):
    """An answer no provider can read (too large, an unknown encoding)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = 0  # the answer's status, once known (fetch sets it)



def transport_kind(exc: BaseException) -> str:
    """What a transport exception says about the address (refused, DNS, TLS…)."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "unsupported"
    if isinstance(exc, httpx.ProxyError):
        return "proxy"
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        chain = _chain(exc)
        if any(isinstance(e, ssl.SSLError) for e in chain):
            return "tls"
        if any(isinstance(e, socket.gaierror) for e in chain):
            return "dns"
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return "refused"
        text = " ".join(str(e).lower() for e in chain)
        if "ssl" in text or "certificate" in text or "tls" in text:
            return "tls"
        if any(s in text for s in ("name or service not known", "nodename nor servname",
                                   "name resolution", "getaddrinfo", "no address")):
            return "dns"
        if "refused" in text:
            return "refused"
        return "connect"
    return "connection"


def _chain(exc: BaseException) -> list[BaseException]:
    out, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def proxy_settings(url: str) -> list[str]:
    """The proxy variables httpx would use for ``url``, masked (``NAME=scheme://host``)."""
    scheme = urlsplit(url).scheme.lower()
    names = (["HTTPS_PROXY", "https_proxy"] if scheme == "https" else
             ["HTTP_PROXY", "http_proxy"]) + ["ALL_PROXY", "all_proxy"]
    for name in names:
        if os.environ.get(name):
            return [f"{name.upper()}={mask_url(os.environ[name])}"]
    return []


def describe_transport(kind: str, url: str = "") -> str:
    """What went wrong, naming the settings that decide it (a corporate proxy or CA)."""
    text = _DESCRIBE.get(kind, kind)
    env = []
    if kind == "tls":
        env.append(f"SSL_CERT_FILE={os.environ.get('SSL_CERT_FILE') or '(not set)'}")
    if kind in CONNECT_KINDS:
        env += proxy_settings(url or "https://")
    return text + (f" ({', '.join(env)}; via the proxy)" if any(
        "PROXY" in e for e in env) else f" ({', '.join(env)})" if env else "")


def client_error(exc: Exception) -> ConfigurationError:
    """httpx could not even build a client: the CA bundle or the proxy URL is unusable."""
    cert = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
    if isinstance(exc, ssl.SSLError | OSError) and cert:
        return ConfigurationError(f"cannot load the CA certificates named by SSL_CERT_FILE/"
                                  f"SSL_CERT_DIR ({safe_text(cert)}): {safe_text(exc, 120)}")
    return ConfigurationError(f"cannot set up HTTP ({type(exc).__name__}); check "
                              "HTTPS_PROXY/HTTP_PROXY/NO_PROXY and SSL_CERT_FILE")


def error_envelope(body: Any) -> dict[str, Any] | None:
    """The error envelope GSMA MaaP and Google share, ``{"error": {"code"|"message"|
    "status": …}}``, if ``body`` is one (a provider's documented negatives use it)."""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and {"code", "message", "status"} & set(err):
        return err
    return None


#: the envelope ``status`` words that agree with an HTTP status (``agreeing_envelope``),
#: compared without case, spaces, ``_`` or ``-``; the status number as text agrees too
STATUS_NAMES = {403: frozenset({"permissiondenied", "forbidden"}),
                404: frozenset({"notfound"})}


#: keys beside an error envelope that say the request failed, whatever they hold (an OneAPI
#: ``requestError`` and the two exceptions it wraps), compared without case
FAILURE_KEYS_BESIDE = frozenset({"requesterror", "serviceexception", "policyexception"})


def _agrees(code: Any, said: Any, status: int) -> bool:
    """``code`` and ``said`` (an envelope's ``code`` and ``status``) each absent or saying
    the HTTP ``status``: the number, as a number or as text, or its name."""
    if code is not None and not ((type(code) is int and code == status)
                                 or (isinstance(code, str) and code.strip() == str(status))):
        return False
    return said is None or (isinstance(said, str) and (
        said.strip() == str(status)
        or re.sub(r"[\s_-]+", "", said).lower() in STATUS_NAMES.get(status, ())))


def agreeing_envelope(body: Any, status: int) -> dict[str, Any] | None:
    """The error envelope of a documented negative answered with ``status`` (a 404 "not
    found", a 403 "not a tester"), or None when the body is no such thing: a failure.

    The envelope's own ``code`` and ``status`` must say what the HTTP status says (one of
    them at least, none saying something else), and nothing beside the envelope may say
    the request failed (an OneAPI ``requestError`` or one of its exceptions, an
    ``errorCode``, a ``status`` word of failure or object, a ``code`` or ``status`` of
    its own saying another status). A 404 whose envelope reads ``{"code": 503,
    "status": "UNAVAILABLE"}`` or ``"UNAUTHENTICATED"`` is a gateway passing on another
    failure under the wrong status: taking it for the documented negative would cache a
    wrong "not RCS" (CONTRACT §10)."""
    err = error_envelope(body)
    if err is None:
        return None
    code, said = err.get("code"), err.get("status")
    if code is None and said is None:
        return None
    if not _agrees(code, said, status):
        return None
    rest = {k: v for k, v in body.items() if k != "error"}
    # beside the envelope: a failure word or key, a OneAPI exception, or a code/status of
    # its own saying another thing (a ``google.rpc.Status`` object, ``"code": 503``)
    if says_failed(rest) or any(str(k).lower() in FAILURE_KEYS_BESIDE for k in rest):
        return None
    if not _agrees(rest.get("code"), rest.get("status"), status):
        return None
    return err


def server_message(content: bytes, hide: tuple[str, ...] = ()) -> str:
    """The server's own words from an error body, made safe, for a one-line message:
    numbers, token-like strings and the secrets in ``hide`` masked (a server may echo
    the request back)."""
    words = _server_words(content)
    for secret in hide:
        if secret:
            words = words.replace(secret, "<redacted>")
    return mask_secrets(words)


def _server_words(content: bytes) -> str:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        text = content[:300].decode("utf-8", "replace")
        return safe_text(re.sub(r"<[^>]*>", " ", text), 120)
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return safe_text(err.get("message") or err.get("status") or "", 120)
        for key in ("message", "error_description", "error", "detail"):
            if isinstance(data.get(key), str):
                return safe_text(data[key], 120)
    return ""

