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

        return BotHubProvider(**_bothub(s, cache, notify))
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

        return RbmBatchProvider(agent_launched=s.agent_launched,
                                **_rbm(s, cache, notify))
    raise ConfigurationError(f"unknown --capability {s.capability}")


def make_mnp_source(s: Settings, plan: NumberingPlan, cache: LookupCache,
                    notify: Notify | None = None) -> OperatorSource:
    from rcsqualify.operators.mnp import MnpSource, mnp_token_from_env

    assert s.mnp_url
    return MnpSource(url_template=s.mnp_url, plan=plan, cache=cache, policy=s.http_policy(),
                     token=mnp_token_from_env(), field=s.mnp_field, notify=notify)
