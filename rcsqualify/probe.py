"""``rcsqualify probe``: one look-up, the raw answer, for onboarding a service.

The service is built by its provider registry entry (``providers.py``), the request by
the provider's own builder (``request_parts``), and it is sent by the provider's own
HTTP layer (``HttpLayer.send_once``: its token, headers, pacing slot, deadline and body
cap), once, without a retry. What rcsqualify makes of the answer is the provider's own
reading (``interpret`` for a capability provider, the profile's ``explain`` for MNP).
The number and every secret are masked in what is shown.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from rcsqualify.errors import ConfigurationError, InputError
from rcsqualify.settings import Settings


@dataclass
class ProbeResult:
    """One look-up as it went: what was sent and what came back, masked (the number and
    every secret), and what rcsqualify makes of it."""

    service: str
    request: str  # method and masked URL
    status: int | None = None
    content_type: str = ""
    size: int = 0
    body: str = ""
    recognized: bool = False
    meaning: str = ""


#: what a capability verdict means, in the run's words
_VERDICTS = {"yes": "RCS-reachable (reachable)", "no": "not RCS (not_rcs)",
             "nofeature": "no chatbot feature (not_rcs / no_chatbot_feature)"}


def probe(s: Settings, number: str) -> ProbeResult:
    """Send one look-up of ``number`` (E.164) to the service ``s`` names: a capability
    provider that asks one number per request and says how (``--capability bothub``),
    or the MNP profile (``--mnp-profile``/``--mnp-url``)."""
    from rcsqualify.providers import CAPABILITY, OPERATOR, PROBED, build, needs
    from rcsqualify.remote.cache import LookupCache

    cache = LookupCache(enabled=False)  # a probe neither reads nor writes answers
    entry = CAPABILITY.get(s.capability)
    if entry is not None and entry.probed:
        provider = build(entry, s, needs(s, cache))
        return asyncio.run(_probe_capability(provider, number, tuple(entry.secrets)))
    which = f"--capability {' or '.join(PROBED)}"
    if s.capability != "none":
        raise InputError(f"probe: {which}, or an MNP profile (--mnp-profile / --mnp-url)")
    if not (s.mnp_url or s.mnp_profile):
        raise InputError(f"probe: say what to ask: {which}, or --mnp-profile / --mnp-url")
    from rcsqualify.numbering.plan import load_plan

    source = build(OPERATOR["mnp"], s, needs(s, cache, plan=load_plan()))
    return asyncio.run(_probe_mnp(source, number))


async def _probe_mnp(source: Any, number: str) -> ProbeResult:
    from rcsqualify.remote.http import Answer

    method, url, _ = source.request_parts(number)
    result = ProbeResult(f"mnp ({source.profile.name})", _request(method, url))
    async with source.http.session():
        raw, headers = await _sent(source.send_once(number), method, url)
    _show(result, raw, number, [*source.credentials.secrets(), *_secrets(headers)])
    answer = Answer(raw.status, _json_or_none(raw.content))
    if answer.body is None and raw.content.strip():
        result.meaning = "not JSON: a failure (operator_error), never cached"
    elif raw.status not in source.profile.ok + source.profile.unknown_statuses:
        result.meaning = f"HTTP {raw.status} is not an answer of this profile: a run stops " \
            "(exit 2) on it, or retries it (5xx, 408, 429)"
    else:
        result.recognized, result.meaning = source.explain(answer)
    return result


async def _probe_capability(provider: Any, number: str, secret_names: tuple[str, ...]
                            ) -> ProbeResult:
    import os

    from rcsqualify.remote.failures import Unresolved
    from rcsqualify.remote.http import Answer

    method, url, kwargs = provider.request_parts(number)
    result = ProbeResult(provider.name, _request(method, url))
    async with provider.http.session():
        raw, headers = await _sent(provider.http.send_once(method, url, **kwargs),
                                   method, url)
    _show(result, raw, number, [*(os.environ.get(n, "") for n in secret_names),
                                *_secrets(headers)])
    if raw.status not in provider.answer_statuses:
        result.meaning = f"HTTP {raw.status} is not a capability answer: a run stops " \
            "(exit 2) on it, or retries it (5xx, 408, 429)"
        return result
    try:
        verdict = provider.interpret(Answer(raw.status, _json_or_none(raw.content)), url)
    except Unresolved as exc:
        result.meaning = f"not recognized ({exc.kind}): capability_error, never cached"
        return result
    result.recognized = True
    result.meaning = _VERDICTS.get(verdict, verdict)
    return result


async def _sent(send: Any, method: str, url: str) -> Any:
    """The answer of one send; a failure on the way is one line (exit 2)."""
    from rcsqualify.masking import mask_url
    from rcsqualify.remote.failures import Transient, Unresolved, describe_transport

    try:
        return await send
    except Transient as exc:
        raise ConfigurationError(f"probe: {method} {mask_url(url)}: "
                                 f"{describe_transport(exc.kind)}") from None
    except Unresolved as exc:
        raise ConfigurationError(f"probe: {method} {mask_url(url)}: no answer rcsqualify "
                                 f"can read ({exc.kind})") from None


def _secrets(headers: dict[str, str]) -> list[str]:
    """Every header value sent, and its last word (the token of ``Bearer <token>``)."""
    return [part for value in headers.values() for part in (value, value.split(" ")[-1])]


def _request(method: str, url: str) -> str:
    from rcsqualify.masking import mask_url

    return f"{method} {mask_url(url)}"


def _show(result: ProbeResult, raw: Any, number: str, secrets: list[str]) -> None:
    result.status = raw.status
    result.content_type = raw.headers.get("content-type", "")
    result.size = len(raw.content)
    result.body = mask_text(_pretty(raw.content), number, secrets)


def _json_or_none(content: bytes) -> Any:
    import json

    try:
        return json.loads(content) if content.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None


def _pretty(content: bytes, limit: int = 4000) -> str:
    import json

    try:
        text = json.dumps(json.loads(content), indent=2)  # ASCII: no control characters
    except (ValueError, UnicodeDecodeError):
        from rcsqualify.textsafe import safe_lines

        text = safe_lines(content[:limit].decode("utf-8", "replace"))
    return text if len(text) <= limit else text[:limit] + "\n… (cut)"


def mask_text(text: str, number: str, secrets: list[str]) -> str:
    """The number in any of its usual forms, and every secret, masked in ``text``."""
    import json
    from urllib.parse import quote

    from rcsqualify.report.masking import mask_number

    for secret in sorted((x for x in secrets if x), key=len, reverse=True):
        # as written, and as JSON escapes it (the answer is pretty-printed from JSON)
        for form in {secret, json.dumps(secret)[1:-1]}:
            text = text.replace(form, "***")
    digits = number.lstrip("+")
    national = "0" + digits[2:] if digits.startswith("33") else ""
    for form in sorted({number, quote(number, safe=""), digits, national} - {""},
                       key=len, reverse=True):
        text = text.replace(form, mask_number(form).replace("%2B", "+")
                            if form.startswith("%2B") else mask_number(form))
    return _mask_spelled(text, national or digits)


def _mask_spelled(text: str, national: str) -> str:
    """The number written with separators (``06 12 34 56 78``, ``+33 6 12…``): every run
    of digits and separators whose digits end with the number's own significant digits
    is masked."""
    tail = national.lstrip("0")[-8:]
    if not tail:
        return text

    def hide(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "<number>" if digits.endswith(tail) else m.group(0)

    return re.sub(r"\+?\d[\d\s.\-/()]{6,}\d", hide, text)
