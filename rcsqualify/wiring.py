"""Turns ``Settings`` into the objects of a run: cache, operator sources, providers.

This is the wiring layer (above every stage): stage modules take plain arguments and
never see ``Settings``. Secrets come from the environment (or files named by options)
here, at the last moment, and go straight into the provider: they never pass through
Settings, logs or reports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rcsqualify import bulkwindow
from rcsqualify.capability.interface import CapabilityProvider
from rcsqualify.errors import ConfigurationError, InputError
from rcsqualify.numbering.plan import NumberingPlan
from rcsqualify.operators.interface import OperatorSource
from rcsqualify.remote.cache import Freshness, LookupCache
from rcsqualify.remote.http import Notify
from rcsqualify.settings import Settings


def _env(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{what} is missing: set {name}")
    return value


def make_cache(s: Settings) -> LookupCache:
    return LookupCache(s.cache_dir, enabled=not s.no_cache, refresh=s.refresh,
                       freshness=Freshness(s.ttl_positive_days, s.ttl_negative_days,
                                           s.ttl_operator_days))


def _bothub(s: Settings, cache: LookupCache, notify: Notify | None) -> dict[str, Any]:
    from rcsqualify.capability.bothub import GsmaJwt

    if not s.bot_id:
        raise ConfigurationError("the BotHub bot id is missing: --bot-id or "
                                 "RCSQUALIFY_BOTHUB_BOT_ID")
    client_id = _env("RCSQUALIFY_BOTHUB_CLIENT_ID", "the BotHub client id")
    secret = _env("RCSQUALIFY_BOTHUB_CLIENT_SECRET", "the BotHub client secret")
    jwt = (GsmaJwt(s.bot_key_file, s.bot_id, s.bothub_url.rstrip("/") + "/gsma")
           if s.bot_key_file else None)
    return dict(base_url=s.bothub_url, token_url=s.bothub_token_url, client_id=client_id,
                client_secret=secret, bot_id=s.bot_id, cache=cache, policy=s.http_policy(),
                jwt=jwt, jwt_header=s.bot_jwt_header, require_feature=s.require_feature,
                notify=notify)


def _rbm(s: Settings, cache: LookupCache, notify: Notify | None) -> dict[str, Any]:
    if not s.agent_id:
        raise ConfigurationError("the RBM agent id is missing: --agent-id or "
                                 "RCSQUALIFY_RBM_AGENT_ID")
    if not s.rbm_credentials:
        raise ConfigurationError("the RBM service-account file is missing: --rbm-credentials, "
                                 "RCSQUALIFY_RBM_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS")
    return dict(base_url=s.rbm_url, agent_id=s.agent_id, credentials=Path(s.rbm_credentials),
                cache=cache, policy=s.http_policy(), notify=notify)


def make_provider(s: Settings, cache: LookupCache, notify: Notify | None = None
                  ) -> CapabilityProvider | None:
    """The capability provider named by ``--capability`` (None for ``none``)."""
    if s.capability == "none":
        return None
    if s.capability == "bothub":
        from rcsqualify.capability.bothub import BotHubProvider

        return BotHubProvider(single_warn=s.single_warn, **_bothub(s, cache, notify))
    if s.capability == "bothub-bulk":
        from rcsqualify.capability.bothub_bulk import BotHubBulkProvider

        try:
            hours = bulkwindow.parse_hours(s.bulk_hours)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return BotHubBulkProvider(
            job_dir=cache.directory if cache.enabled else None,
            wait_for_window=s.wait_for_window, poll_initial=s.poll_interval,
            bulk_deadline=s.bulk_deadline, hours=hours, **_bothub(s, cache, notify))
    if s.capability == "rbm":
        from rcsqualify.capability.rbm import RbmProvider

        return RbmProvider(**_rbm(s, cache, notify))
    if s.capability == "rbm-batch":
        from rcsqualify.capability.rbm import RbmBatchProvider

        return RbmBatchProvider(agent_launched=s.agent_launched, batch_size=s.batch_size,
                                **_rbm(s, cache, notify))
    raise ConfigurationError(f"unknown --capability {s.capability}")


def make_mnp_source(s: Settings, plan: NumberingPlan, cache: LookupCache,
                    notify: Notify | None = None) -> OperatorSource:
    """The MNP look-up of ``--mnp-profile`` (default ``generic``) at ``--mnp-url`` (the
    profile's own URL when it has one), with credentials from the environment."""
    from rcsqualify.operators.mnp import MnpSource

    profile, url, credentials = mnp_profile_parts(s)
    return MnpSource(url=url, plan=plan, cache=cache, policy=s.http_policy(),
                     profile=profile, credentials=credentials, field=s.mnp_field,
                     notify=notify)


def mnp_profile_parts(s: Settings) -> tuple[Any, str, Any]:
    """Profile, URL and credentials of the MNP look-up (exit 2 naming what is wrong)."""
    from rcsqualify.operators.mnp_profiles import credentials_from_env, load_profile

    profile = load_profile(s.mnp_profile or "generic")
    if s.mnp_field and not profile.is_template:
        raise InputError(f"--mnp-field applies to --mnp-profile generic only; the profile "
                         f"{profile.name} says where the network is")
    url = s.mnp_url or profile.url
    if not url:
        raise InputError(f"--mnp-profile {profile.name} needs --mnp-url (RCSQUALIFY_MNP_URL)"
                         + (", a URL template with {msisdn}" if profile.is_template else
                            ", the service's base URL"))
    return profile, url, credentials_from_env(profile)


def make_portability_source(s: Settings, plan: NumberingPlan) -> OperatorSource:
    """Extracts (``--portability``), a store (``--portability-db``), or both (the
    extracts' newer entries over the store's)."""
    from rcsqualify.operators.portability import (
        PortabilitySource,
        build_table,
        load_store,
        overlay,
    )

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
