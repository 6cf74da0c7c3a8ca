"""Turns ``Settings`` into the objects of a run: cache, operator sources, providers.

This is the wiring layer (above every stage): stage modules take plain arguments and
never see ``Settings``. Secrets come from the environment (or files named by options)
here, at the last moment, and go straight into the provider: they never pass through
Settings, logs or reports.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsqualify.errors import ConfigurationError, InputError
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.remote.cache import Freshness, LookupCache
from rcsqualify.remote.cachekey import KeyOptions
from rcsqualify.settings import Settings

if TYPE_CHECKING:
    from rcsqualify.remote.pacing import QuotaStore


def make_cache(s: Settings) -> LookupCache:
    """The run's cache (``--cache-url``/``--cache-dir``)."""
    return LookupCache(s.cache_dir, url=s.cache_url, enabled=not s.no_cache,
                       refresh=s.refresh, key=cache_key_options(
                           s.cache_key_file, s.cache_key_in_store, s.credential_refs),
                       freshness=Freshness(s.ttl_positive_days, s.ttl_negative_days,
                                           s.ttl_operator_days))


def make_quota(s: Settings) -> QuotaStore:
    """The quota store the run's providers pace against (``--quota-store``, default the
    cache URL when it is Redis; else this machine's schedule files). It is its own
    object, passed to every provider factory: it fails on its own (CONTRACT §10), a
    quota store lost mid-run leaving the cache as it is (``QuotaStore.lost``)."""
    from rcsqualify.remote.pacing import QuotaStore
    from rcsqualify.remote.redis_conn import is_redis_url

    quota_url = s.quota_store or (s.cache_url if is_redis_url(s.cache_url) else None)
    if quota_url and not is_redis_url(quota_url):
        raise ConfigurationError("--quota-store (RCSQUALIFY_QUOTA_STORE) must be a "
                                 "redis:// or rediss:// URL")
    return QuotaStore(quota_url)


@dataclass
class Shared:
    """What every remote stage of a run shares: the cache and the quota store. Two
    objects, opened together and closed together, each failing on its own."""

    cache: LookupCache
    quota: QuotaStore

    @property
    def notes(self) -> list[str]:
        """What both say on every run (a key stored inside a shared cache, an evicting
        Redis: said once when the cache and the quota share it)."""
        return list(dict.fromkeys([*self.cache.notes, *self.quota.warnings]))

    def close(self) -> None:
        try:
            self.quota.close()
        finally:
            self.cache.close()


def open_shared(s: Settings) -> Shared:
    """The cache, then the quota store (the cache closed again if the quota fails)."""
    cache = make_cache(s)
    try:
        return Shared(cache, make_quota(s))
    except BaseException:
        cache.close()
        raise


def cache_key_options(file: Path | None, in_store: bool = False,
                      refs: dict[str, str] | None = None) -> KeyOptions:
    """Where the cache key comes from (remote/cachekey.py): ``--cache-key-file`` (or
    ``RCSQUALIFY_CACHE_KEY_FILE``), else the profile's ``cache-key`` reference (a file,
    or ``env:VAR`` resolved here), else ``RCSQUALIFY_CACHE_KEY`` (read when the cache
    opens)."""
    ref = (refs or {}).get("RCSQUALIFY_CACHE_KEY")
    if file is None and ref:
        kind, _, target = ref.partition(":")
        if kind == "file":
            return KeyOptions(file=Path(target), in_store=in_store)
        from rcsqualify.config import resolve_reference

        return KeyOptions(text=resolve_reference(ref, "the cache key"), in_store=in_store)
    return KeyOptions(file=file, in_store=in_store)


def mnp_profile_url(name: str | None, url: str | None, region: str | None = None
                    ) -> tuple[Any, str]:
    """The MNP profile ``name`` (default ``generic``), in ``region`` (``--mnp-region``)
    when given, and the URL to ask: ``url`` (``--mnp-url``), else the profile's own (exit
    2 when there is neither, or the profile has no such region)."""
    from rcsqualify.operators.mnp_profiles import load_profile

    profile = load_profile(name or "generic")
    if region:
        profile = profile.in_region(region)
    url = url or profile.url
    if not url:
        raise InputError(f"--mnp-profile {profile.name} needs --mnp-url (RCSQUALIFY_MNP_URL)"
                         + (", a URL template with {msisdn}" if profile.is_template else
                            ", the service's base URL"))
    return profile, url


def mnp_profile_parts(s: Settings) -> tuple[Any, str, Any]:
    """Profile, URL and credentials of the MNP look-up (exit 2 naming what is wrong)."""
    from rcsqualify.operators.mnp_profiles import credentials_from_env

    profile, url = mnp_profile_url(s.mnp_profile, s.mnp_url, s.mnp_region)
    if s.mnp_field and not profile.is_template:
        raise InputError(f"--mnp-field applies to --mnp-profile generic only; the profile "
                         f"{profile.name} says where the network is")
    env = None
    if s.credential_refs:  # the profile's references for this MNP profile's variables
        from rcsqualify.config import credential_env

        env = credential_env(s.credential_refs, profile.credential_names)
    return profile, url, credentials_from_env(profile, env)


def make_portability_source(s: Settings, plan: NumberingPlan) -> OperatorSource:
    """Extracts (``--portability``), a store (``--portability-db``), or both (the
    extracts' newer entries over the store's)."""
    from rcsqualify.operators.portability import PortabilitySource, build_table, overlay
    from rcsqualify.operators.portability_store import load_store

    max_unmapped = s.portability_max_unmapped
    max_age = s.portability_max_age
    if s.portability_db and s.portability:
        extra = build_table(s.portability, plan, number_column=s.portability_number_column,
                            operator_column=s.portability_operator_column,
                            max_unmapped=max_unmapped)
        base = load_store(s.portability_db, with_dates=True)
        table, _ = overlay(base, extra, undated_top_wins=True)
        return PortabilitySource(table, f"{s.portability_db} + extracts", max_age_days=max_age)
    if s.portability_db:
        return PortabilitySource(load_store(s.portability_db), str(s.portability_db),
                                 max_age_days=max_age)
    table = build_table(s.portability, plan, number_column=s.portability_number_column,
                        operator_column=s.portability_operator_column,
                        max_unmapped=max_unmapped)
    return PortabilitySource(table, ", ".join(str(p) for p in s.portability),
                             max_age_days=max_age)


# -- rcsqualify probe: one look-up, the raw answer, for onboarding a service ------------

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


def probe(s: Settings, number: str) -> ProbeResult:
    """Send one look-up of ``number`` (E.164) to the service ``s`` names: BotHub
    (``--capability bothub``) or the MNP profile (``--mnp-profile``/``--mnp-url``)."""
    import asyncio

    from rcsqualify.remote.cache import LookupCache

    cache = LookupCache(enabled=False)
    if s.capability == "bothub":
        from rcsqualify.capability.bothub import BotHubProvider
        from rcsqualify.providers import bothub_arguments

        provider = BotHubProvider(**bothub_arguments(s, cache, None, None))
        return asyncio.run(_probe_bothub(provider, number))
    if s.capability != "none":
        raise InputError("probe: --capability bothub, or an MNP profile (--mnp-profile / "
                         "--mnp-url)")
    if not (s.mnp_url or s.mnp_profile):
        raise InputError("probe: say what to ask: --capability bothub, or --mnp-profile / "
                         "--mnp-url")
    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.operators.mnp import MnpSource

    profile, url, credentials = mnp_profile_parts(s)
    source = MnpSource(url=url, plan=load_plan(), cache=cache, policy=s.http_policy(),
                       profile=profile, credentials=credentials, field=s.mnp_field)
    return asyncio.run(_probe_mnp(source, number, credentials.secrets()))


async def _probe_mnp(source: Any, number: str, secrets: list[str]) -> ProbeResult:
    from rcsqualify.remote.http import Answer

    method, url, kwargs = source.request_parts(number)
    headers = {**kwargs.pop("headers"), **source.auth_headers(number)}
    result = ProbeResult(f"mnp ({source.profile.name})", "")
    raw = await _send(source.http, method, url, headers, kwargs, result, number, secrets)
    answer = Answer(raw.status, _json_or_none(raw.content))
    if answer.body is None and raw.content.strip():
        result.meaning = "not JSON: a failure (operator_error), never cached"
    elif raw.status not in source.profile.ok + source.profile.unknown_statuses:
        result.meaning = f"HTTP {raw.status} is not an answer of this profile: a run stops " \
            "(exit 2) on it, or retries it (5xx, 408, 429)"
    else:
        result.recognized, result.meaning = source.explain(answer)
    return result


async def _probe_bothub(provider: Any, number: str) -> ProbeResult:
    import httpx

    from rcsqualify.remote.failures import Unresolved
    from rcsqualify.remote.http import Answer
    from rcsqualify.remote.transport import USER_AGENT

    url = f"{provider.base_url}/bot/v1/{provider.bot_id}/contactCapabilities"
    result = ProbeResult("bothub", "")
    async with httpx.AsyncClient(headers={"User-Agent": USER_AGENT}) as client:
        token = await provider.token.token(client)
    headers = {"Authorization": f"Bearer {token}"}
    if provider.http.extra_headers is not None:
        headers.update(provider.http.extra_headers())
    secrets = [token, os.environ.get("RCSQUALIFY_BOTHUB_CLIENT_SECRET", ""),
               *headers.values()]
    raw = await _send(provider.http, "GET", url, headers, {"params": {"userContact": number}},
                      result, number, secrets)
    answer = Answer(raw.status, _json_or_none(raw.content))
    if raw.status not in (200, 404):
        result.meaning = f"HTTP {raw.status} is not a capability answer: a run stops " \
            "(exit 2) on it, or retries it (5xx, 408, 429)"
        return result
    try:
        verdict = provider.interpret(answer, url)
    except Unresolved as exc:
        result.meaning = f"not recognized ({exc.kind}): capability_error, never cached"
        return result
    result.recognized = True
    result.meaning = {"yes": "RCS-reachable (reachable)", "no": "not RCS (not_rcs)",
                      "nofeature": "no chatbot feature (not_rcs / no_chatbot_feature)"
                      }.get(verdict, verdict)
    return result


async def _send(layer: Any, method: str, url: str, headers: dict[str, str],
                kwargs: dict[str, Any], result: ProbeResult, number: str,
                secrets: list[str]) -> Any:
    """One request on the service's shared pacing schedule (the quota is shared with
    every run), with the layer's deadline and body cap."""
    import httpx

    from rcsqualify.masking import mask_url
    from rcsqualify.remote.failures import describe_transport, transport_kind
    from rcsqualify.remote.transport import USER_AGENT, fetch

    policy = layer.policy
    result.request = f"{method} {mask_url(url)}"
    async with httpx.AsyncClient(headers={"User-Agent": USER_AGENT}) as client:
        await layer.pacer.reserve()
        try:
            raw = await fetch(client, method, url, timeout=policy.timeout,
                              max_body=policy.max_body, on_write=layer.pacer.confirm,
                              on_written=layer.pacer.written,
                              headers=headers, **kwargs)
        except (httpx.TransportError, TimeoutError) as exc:
            raise ConfigurationError(f"probe: {mask_url(url)}: "
                                     f"{describe_transport(transport_kind(exc))}") from None
    result.status = raw.status
    result.content_type = raw.headers.get("content-type", "")
    result.size = len(raw.content)
    result.body = mask_text(_pretty(raw.content), number, secrets)
    return raw


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
