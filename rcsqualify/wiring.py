"""Turns ``Settings`` into the shared objects of a run: the cache, the quota store, the
operator sources read from files, the MNP profile; providers are built by their
registry entries (``providers.py``).

This is the wiring layer (above every stage): stage modules take plain arguments and
never see ``Settings``. Secrets come from the environment (or files named by options)
here, at the last moment, and go straight into the provider: they never pass through
Settings, logs or reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsqualify.errors import ConfigurationError, InputError
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.remote.cache import Freshness, LookupCache
from rcsqualify.remote.cachekey import KeyOptions
from rcsqualify.settings import MnpOptions, Settings

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


def mnp_profile_parts(m: MnpOptions, refs: Mapping[str, str]) -> tuple[Any, str, Any]:
    """Profile, URL and credentials of the MNP look-up (exit 2 naming what is wrong),
    from the MNP options and the profile's secret references."""
    from rcsqualify.operators.mnp_profiles import credentials_from_env

    profile, url = mnp_profile_url(m.mnp_profile, m.mnp_url, m.mnp_region)
    if m.mnp_field and not profile.is_template:
        raise InputError(f"--mnp-field applies to --mnp-profile generic only; the profile "
                         f"{profile.name} says where the network is")
    env = None
    if refs:  # the profile's references for this MNP profile's variables
        from rcsqualify.config import credential_env

        env = credential_env(dict(refs), profile.credential_names)
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
