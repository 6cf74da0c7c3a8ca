"""Builds the capability provider named by ``--capability`` from settings and secrets.

Secrets come from the environment (or files named by options) here, at the last
moment, and go straight into the provider: they never pass through Settings, logs or
reports.
"""

from __future__ import annotations

import os

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


def make_provider(s: Settings, cache: LookupCache, notify: Notify | None = None
                  ) -> CapabilityProvider:
    if s.capability == "bothub":
        from rcsqualify.capability.bothub import BotHubProvider, GsmaJwt

        if not s.bot_id:
            raise ConfigurationError("the BotHub bot id is missing: --bot-id or "
                                     "RCSQUALIFY_BOTHUB_BOT_ID")
        client_id = _env("RCSQUALIFY_BOTHUB_CLIENT_ID", "the BotHub client id")
        secret = _env("RCSQUALIFY_BOTHUB_CLIENT_SECRET", "the BotHub client secret")
        jwt = (GsmaJwt(s.bot_key_file, s.bot_id, s.bothub_url.rstrip("/") + "/gsma")
               if s.bot_key_file else None)
        return BotHubProvider(base_url=s.bothub_url, token_url=s.bothub_token_url,
                              client_id=client_id, client_secret=secret, bot_id=s.bot_id,
                              cache=cache, rate=s.rate, throttle_pause=s.throttle_pause,
                              timeout=s.timeout, concurrency=s.concurrency,
                              deadline=s.deadline, jwt=jwt, jwt_header=s.bot_jwt_header,
                              notify=notify, backoff_initial=s.retry_backoff,
                              rate_margin=s.rate_margin)
    raise ConfigurationError(f"--capability {s.capability} is not available in this version")
