"""Builds the capability provider named by ``--capability`` from settings and secrets.

Secrets come from the environment (or files named by options) here, at the last
moment, and go straight into the provider: they never pass through Settings, logs or
reports.
"""

from __future__ import annotations

import os
from typing import Any

from rcsqualify.capability.interface import CapabilityProvider
from rcsqualify.errors import ConfigurationError
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


def _bothub_kwargs(s: Settings, cache: LookupCache, notify: Notify | None) -> dict[str, Any]:
    from rcsqualify.capability.bothub import GsmaJwt

    if not s.bot_id:
        raise ConfigurationError("the BotHub bot id is missing: --bot-id or "
                                 "RCSQUALIFY_BOTHUB_BOT_ID")
    client_id = _env("RCSQUALIFY_BOTHUB_CLIENT_ID", "the BotHub client id")
    secret = _env("RCSQUALIFY_BOTHUB_CLIENT_SECRET", "the BotHub client secret")
    jwt = (GsmaJwt(s.bot_key_file, s.bot_id, s.bothub_url.rstrip("/") + "/gsma")
           if s.bot_key_file else None)
    return dict(base_url=s.bothub_url, token_url=s.bothub_token_url, client_id=client_id,
                client_secret=secret, bot_id=s.bot_id, cache=cache, rate=s.rate,
                throttle_pause=s.throttle_pause, timeout=s.timeout,
                concurrency=s.concurrency, deadline=s.deadline, jwt=jwt,
                jwt_header=s.bot_jwt_header, notify=notify, backoff_initial=s.retry_backoff,
                rate_margin=s.rate_margin)


def _rbm_kwargs(s: Settings, cache: LookupCache, notify: Notify | None) -> dict[str, Any]:
    if not s.agent_id:
        raise ConfigurationError("the RBM agent id is missing: --agent-id or "
                                 "RCSQUALIFY_RBM_AGENT_ID")
    if not s.rbm_credentials:
        raise ConfigurationError("the RBM service-account file is missing: --rbm-credentials, "
                                 "RCSQUALIFY_RBM_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS")
    return dict(base_url=s.rbm_url, agent_id=s.agent_id, credentials=s.rbm_credentials,
                cache=cache, rate=s.rate, throttle_pause=s.throttle_pause, timeout=s.timeout,
                concurrency=s.concurrency, deadline=s.deadline, notify=notify,
                backoff_initial=s.retry_backoff, rate_margin=s.rate_margin)


def make_provider(s: Settings, cache: LookupCache, notify: Notify | None = None
                  ) -> CapabilityProvider:
    if s.capability == "bothub":
        from rcsqualify.capability.bothub import BotHubProvider

        return BotHubProvider(**_bothub_kwargs(s, cache, notify))
    if s.capability == "bothub-bulk":
        from rcsqualify.capability.bothub_bulk import BotHubBulkProvider

        return BotHubBulkProvider(job_dir=cache.directory if cache.enabled else None,
                                  wait_for_window=s.wait_for_window,
                                  poll_initial=s.poll_interval,
                                  **_bothub_kwargs(s, cache, notify))
    if s.capability == "rbm":
        from rcsqualify.capability.rbm import RbmProvider

        return RbmProvider(**_rbm_kwargs(s, cache, notify))
    if s.capability == "rbm-batch":
        from rcsqualify.capability.rbm import RbmBatchProvider

        return RbmBatchProvider(agent_launched=s.agent_launched, **_rbm_kwargs(s, cache, notify))
    raise ConfigurationError(f"unknown --capability {s.capability}")
