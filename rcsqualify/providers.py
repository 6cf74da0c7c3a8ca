"""The provider registry (issue #24 item 2): every service rcsqualify can ask, by name.

One entry per capability provider (``--capability``, ``--other-route``) and per
operator look-up service (MNP). An entry says how to build the provider: its factory
takes the provider's own option group (``options``: ``BothubOptions``, ``RbmOptions``,
``MnpOptions``), never the whole settings, and the run's shared objects, passed
explicitly (``Needs``: the cache, the quota store its schedule comes from, the
notifier, the run's HTTP policy, the profile's secret references); what asking ``n``
numbers costs (``plan``: numbers,
HTTP requests, single/bulk/batch, seconds at the paced rate: read by the dry run, an
undecided verdict's next steps and ``probe``), and which URL options it reads.
Nothing else chooses a provider by its name: adding one is its module, its entry here
and its options.

Provider modules are imported when an entry is built or planned in bulk/batch mode,
never at import time: an offline run imports no HTTP stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsqualify.defaults import ORANGE
from rcsqualify.errors import ConfigurationError, InputError
from rcsqualify.remote.policy import HttpPolicy, RequestPlan
from rcsqualify.settings import (
    BOTHUB_SECRETS,
    MNP_SECRETS,
    BothubOptions,
    MnpOptions,
    OptionGroup,
    RbmOptions,
    Settings,
    check_choice,
    declared,
)

if TYPE_CHECKING:
    from rcsqualify.capability.interface import CapabilityProvider
    from rcsqualify.numbering.plan import NumberingPlan
    from rcsqualify.operators.interface import OperatorSource
    from rcsqualify.remote.cache import LookupCache, Scope
    from rcsqualify.remote.http import Notify
    from rcsqualify.remote.pacing import QuotaStore



@dataclass(frozen=True)
class Needs:
    """What a provider's factory is given beside its option group, each by name: the
    run's cache, the quota store its pacing schedule comes from (None: this machine's
    schedule files), the notifier of pauses and warnings, the run's one HTTP policy
    (``--rate`` and the other network options), the profile's secret references
    (environment variable → ``env:VAR``/``file:PATH``, resolved at the last moment) and,
    for an operator look-up service, the numbering plan."""

    cache: LookupCache
    quota: QuotaStore | None
    notify: Notify | None
    policy: HttpPolicy
    secret_refs: Mapping[str, str] = field(default_factory=dict)
    plan: NumberingPlan | None = None


def needs(s: Settings, cache: LookupCache, quota: QuotaStore | None = None,
          notify: Notify | None = None, plan: NumberingPlan | None = None) -> Needs:
    """The run's shared objects for a factory, with the policy and secret references
    these settings give."""
    return Needs(cache=cache, quota=quota, notify=notify, policy=s.http_policy(),
                 secret_refs=s.credential_refs, plan=plan)


def build(entry: Provider, s: Settings, given: Needs) -> Any:
    """``entry``'s provider: its factory given its own option group and ``given``."""
    return entry.build(s.group(entry.options), given)


@dataclass(frozen=True, kw_only=True)
class Provider:
    """One service by name: how to build it, what it costs, which URLs it asks, and
    what the commands that talk about it (``doctor``, ``init``, ``probe``, an undecided
    verdict's next steps) need to know of it. They read these fields, never its name:
    adding a provider is its module, its entry here and its options."""

    name: str
    #: the option group its factory takes (``build(options, needs)``)
    options: type[OptionGroup]
    #: the service family (``bothub``, ``rbm``, ``mnp``): one set of credentials, one
    #: cache scope; the second route (``--other-route``) is the RBM family's
    family: str
    #: the family as people read it (``doctor``'s lines)
    label: str
    #: (its option group, ``Needs``) → the provider
    build: Callable[[Any, Needs], Any]
    #: numbers asked → the HTTP requests it makes and their time at the quota
    plan: Callable[[Settings, int], RequestPlan]
    #: one number per request: ``--sample auto`` can draw from it
    per_number: bool
    #: (option, URL) pairs checked before the run (exit 2 on a bad one)
    urls: Callable[[Settings], list[tuple[str, str]]]
    #: (name, URL) of each server ``doctor`` reaches (an origin: never a look-up)
    endpoints: Callable[[Settings], list[tuple[str, str]]]
    #: the cache scope its answers are written under, from the options (what
    #: ``rcsqualify learn --capability NAME`` writes to); None: nothing can learn for it
    scope: Callable[[Settings], Scope] | None = None
    #: the target operators it answers for (BotHub: Orange's numbers); empty: any
    operators: tuple[str, ...] = ()
    #: the registry name of the same check as a nightly bulk job, suggested when asking
    #: one by one would take hours
    bulk: str | None = None
    #: ``probe`` can send its one request and explain the answer (``request_parts``,
    #: ``answer_statuses``, ``interpret``)
    probed: bool = False
    #: the environment variables holding its secrets, each with what it holds (masked
    #: in what ``probe`` shows; described in the generated reference, cli/reference.py)
    secrets: Mapping[str, str] = field(default_factory=dict)


def _env(name: str, what: str, refs: Mapping[str, str] | None = None) -> str:
    """A secret: the profile's reference for ``name`` when it has one (``env:VAR`` or a
    file, config.resolve_reference), else the environment variable itself."""
    import os

    if refs and name in refs:
        from rcsqualify.config import resolve_reference

        return resolve_reference(refs[name], what)
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{what} is missing: set {name}")
    return value


def bothub_arguments(b: BothubOptions, given: Needs) -> dict[str, Any]:
    """What BotHub single and bulk are built from; secrets read here, at the last
    moment, straight into the provider."""
    from rcsqualify.capability.bothub import GsmaJwt

    if not b.bot_id:
        raise ConfigurationError("the BotHub bot id is missing: --bot-id or "
                                 "RCSQUALIFY_BOTHUB_BOT_ID")
    client_id = _env("RCSQUALIFY_BOTHUB_CLIENT_ID", "the BotHub client id",
                     given.secret_refs)
    secret = _env("RCSQUALIFY_BOTHUB_CLIENT_SECRET", "the BotHub client secret",
                  given.secret_refs)
    jwt = (GsmaJwt(b.bot_key_file, b.bot_id, b.bothub_url.rstrip("/") + "/gsma")
           if b.bot_key_file else None)
    return dict(base_url=b.bothub_url, token_url=b.bothub_token_url, client_id=client_id,
                client_secret=secret, bot_id=b.bot_id, cache=given.cache,
                policy=given.policy, jwt=jwt, jwt_header=b.bot_jwt_header,
                require_feature=b.require_feature, notify=given.notify, quota=given.quota)


def _rbm_arguments(r: RbmOptions, given: Needs) -> dict[str, Any]:
    if not r.agent_id:
        raise ConfigurationError("the RBM agent id is missing: --agent-id or "
                                 "RCSQUALIFY_RBM_AGENT_ID")
    if not r.rbm_credentials:
        raise ConfigurationError("the RBM service-account file is missing: --rbm-credentials, "
                                 "RCSQUALIFY_RBM_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS")
    return dict(base_url=r.rbm_url, agent_id=r.agent_id, credentials=Path(r.rbm_credentials),
                cache=given.cache, policy=given.policy, notify=given.notify,
                quota=given.quota)


def _bulk_hours(b: BothubOptions) -> Any:
    from rcsqualify import bulkwindow

    try:
        return bulkwindow.parse_hours(b.bulk_hours)
    except ValueError as exc:
        raise InputError(str(exc)) from None


# -- factories: (the provider's option group, Needs) -----------------------------------

def _build_bothub(b: BothubOptions, given: Needs) -> CapabilityProvider:
    from rcsqualify.capability.bothub import BotHubProvider

    return BotHubProvider(single_warn=b.single_warn, **bothub_arguments(b, given))


def _build_bothub_bulk(b: BothubOptions, given: Needs) -> CapabilityProvider:
    from rcsqualify.capability.bothub_bulk import BotHubBulkProvider

    hours = _bulk_hours(b)
    cache = given.cache
    return BotHubBulkProvider(
        job_dir=cache.directory if cache.enabled else None,
        wait_for_window=b.wait_for_window, poll_initial=b.poll_interval,
        bulk_deadline=b.bulk_deadline, hours=hours, **bothub_arguments(b, given))


def _build_rbm(r: RbmOptions, given: Needs) -> CapabilityProvider:
    from rcsqualify.capability.rbm import RbmProvider

    return RbmProvider(**_rbm_arguments(r, given))


def _build_rbm_batch(r: RbmOptions, given: Needs) -> CapabilityProvider:
    from rcsqualify.capability.rbm import RbmBatchProvider

    # batchGet's "not listed" means "not RCS" only where the agent is launched
    return RbmBatchProvider(agent_launched=r.agent_launched, batch_size=r.batch_size,
                            **_rbm_arguments(r, given))


def _build_mnp(m: MnpOptions, given: Needs) -> OperatorSource:
    """The MNP look-up of ``--mnp-profile`` (default ``generic``) at ``--mnp-url`` (the
    profile's own URL when it has one), with credentials from the environment."""
    from rcsqualify.operators.mnp import MnpSource
    from rcsqualify.wiring import mnp_profile_parts

    assert given.plan is not None, "an operator service is given the numbering plan"
    profile, url, credentials = mnp_profile_parts(m, given.secret_refs)
    return MnpSource(url=url, plan=given.plan, cache=given.cache, policy=given.policy,
                     profile=profile, credentials=credentials, field=m.mnp_field,
                     notify=given.notify, quota=given.quota)


# -- plans -------------------------------------------------------------------------------

def plan_single(s: Settings, n: int) -> RequestPlan:
    """One request per number at the run's paced rate (every per-number service)."""
    return s.http_policy().plan_single(n)


def _plan_bulk(s: Settings, n: int) -> RequestPlan:
    from datetime import UTC, datetime

    from rcsqualify.capability.bothub_bulk import plan_jobs

    return plan_jobs(n, s.http_policy(), _bulk_hours(s.bothub), datetime.now(UTC))


def _plan_batch(s: Settings, n: int) -> RequestPlan:
    from rcsqualify.capability.rbm import plan_batch_calls

    return plan_batch_calls(n, s.http_policy(), size=s.batch_size)


# -- cache scopes ----------------------------------------------------------------------

def _bothub_scope(s: Settings) -> Scope:
    """A bot's scope: single and bulk look-ups answer for one another."""
    from rcsqualify.capability.bothub import bothub_scope

    if not s.bot_id:
        raise InputError("the BotHub bot id is missing: --bot-id or "
                         "RCSQUALIFY_BOTHUB_BOT_ID (the bot the campaign was sent by)")
    return bothub_scope(s.bothub_url, s.bot_id, s.require_feature)


def _rbm_scope(s: Settings) -> Scope:
    """An agent's scope: per-number look-ups and batchGet answer for one another."""
    from rcsqualify.capability.rbm import rbm_scope

    if not s.agent_id:
        raise InputError("the RBM agent id is missing: --agent-id or "
                         "RCSQUALIFY_RBM_AGENT_ID (the agent the campaign was sent by)")
    return rbm_scope(s.rbm_url, s.agent_id)


# -- URLs --------------------------------------------------------------------------------

def _bothub_urls(s: Settings) -> list[tuple[str, str]]:
    return [("--bothub-url", s.bothub_url), ("--bothub-token-url", s.bothub_token_url)]


def _rbm_urls(s: Settings) -> list[tuple[str, str]]:
    return [("--rbm-url", s.rbm_url)]


def _mnp_urls(s: Settings) -> list[tuple[str, str]]:
    return [("--mnp-url", s.mnp_url.replace("{msisdn}", "0"))] if s.mnp_url else []


def _bothub_endpoints(s: Settings) -> list[tuple[str, str]]:
    return [("BotHub", s.bothub_url), ("BotHub token", s.bothub_token_url)]


def _rbm_endpoints(s: Settings) -> list[tuple[str, str]]:
    return [("RBM", s.rbm_url)]


def _mnp_endpoints(s: Settings) -> list[tuple[str, str]]:
    """The MNP service's origin: a template's path and query would be a look-up."""
    from urllib.parse import urlsplit

    if not s.mnp_url:
        return []
    parts = urlsplit(s.mnp_url)
    return [("MNP", f"{parts.scheme}://{parts.netloc}/")]


def _bothub(name: str, **how: Any) -> Provider:
    """An Orange BotHub entry: one bot's credentials, scope and servers; Orange's
    numbers only."""
    return Provider(name=name, options=BothubOptions, family="bothub", label="BotHub",
                    urls=_bothub_urls,
                    endpoints=_bothub_endpoints, scope=_bothub_scope, operators=(ORANGE,),
                    secrets=BOTHUB_SECRETS, **how)


def _rbm(name: str, **how: Any) -> Provider:
    """A Google RBM entry: one agent's credentials, scope and server; any operator."""
    return Provider(name=name, options=RbmOptions, family="rbm", label="RBM",
                    urls=_rbm_urls,
                    endpoints=_rbm_endpoints, scope=_rbm_scope, **how)


#: ``--capability`` (and ``--other-route``): every capability provider by name
CAPABILITY: dict[str, Provider] = {p.name: p for p in (
    _bothub("bothub", build=_build_bothub, plan=plan_single, per_number=True,
            bulk="bothub-bulk", probed=True),
    _bothub("bothub-bulk", build=_build_bothub_bulk, plan=_plan_bulk, per_number=False),
    _rbm("rbm", build=_build_rbm, plan=plan_single, per_number=True, probed=True),
    _rbm("rbm-batch", build=_build_rbm_batch, plan=_plan_batch, per_number=False),
)}
#: operator look-up services (``--mnp-url``/``--mnp-profile``)
OPERATOR: dict[str, Provider] = {p.name: p for p in (
    Provider(name="mnp", options=MnpOptions, family="mnp", label="MNP", build=_build_mnp,
             plan=plan_single,
             per_number=True, urls=_mnp_urls, endpoints=_mnp_endpoints, probed=True,
             secrets=MNP_SECRETS),
)}
#: the values of ``--capability``
CAPABILITY_CHOICES: tuple[str, ...] = ("none", *CAPABILITY)
#: the values of ``--other-route``: other operators' mobiles go to RBM
OTHER_ROUTES: tuple[str, ...] = tuple(n for n, p in CAPABILITY.items() if p.family == "rbm")
#: the capability providers ``--sample auto`` can draw from (one number per request)
PER_NUMBER: tuple[str, ...] = tuple(n for n, p in CAPABILITY.items() if p.per_number)


def check_capability(name: str | None) -> None:
    """``--capability``'s one check and message, wherever the name comes from (``check``,
    ``init``, a profile, the Python API): the choices are the registry's, which
    ``settings.py`` cannot import to declare them."""
    check_choice("--capability", name, ("none", *CAPABILITY))  # the registry as it is now


def capability(name: str) -> Provider:
    """The entry of ``--capability name`` (exit 2 naming the choices)."""
    check_capability(name)
    if name not in CAPABILITY:
        raise ConfigurationError(f"--capability {name} asks no service")
    return CAPABILITY[name]


def make_provider(s: Settings, cache: LookupCache, quota: QuotaStore | None = None,
                  notify: Notify | None = None) -> CapabilityProvider | None:
    """The capability provider named by ``--capability`` (None for ``none``)."""
    if s.capability == "none":
        return None
    provider: CapabilityProvider = build(capability(s.capability), s,
                                         needs(s, cache, quota, notify))
    return provider


def make_other_route(s: Settings, cache: LookupCache, quota: QuotaStore | None = None,
                     notify: Notify | None = None) -> CapabilityProvider | None:
    """The second route (``--other-route``): other operators' mobiles on RBM. Its
    settings are checked here, before any request (exit 2 naming what is missing)."""
    if not s.other_route:
        return None
    if s.other_route not in OTHER_ROUTES:
        raise InputError(f"--other-route must be {' or '.join(OTHER_ROUTES)}")
    provider: CapabilityProvider = build(CAPABILITY[s.other_route], s,
                                         needs(s, cache, quota, notify))
    return provider


def make_mnp_source(s: Settings, plan: NumberingPlan, cache: LookupCache,
                    quota: QuotaStore | None = None, notify: Notify | None = None
                    ) -> OperatorSource:
    """The MNP look-up service (``--mnp-url``/``--mnp-profile``)."""
    source: OperatorSource = build(OPERATOR["mnp"], s, needs(s, cache, quota, notify, plan))
    return source


def in_use(s: Settings) -> list[Provider]:
    """The entries a run with these settings asks: ``--capability``, the second route,
    the MNP look-up; each family once (``doctor`` checks a bot's credentials once)."""
    names = [s.capability, s.other_route]
    entries = [CAPABILITY[n] for n in names if n and n in CAPABILITY]
    if s.mnp_url:
        entries.append(OPERATOR["mnp"])
    families: dict[str, Provider] = {}
    for entry in entries:
        families.setdefault(entry.family, entry)
    return list(families.values())


def per_number_for(operator: str) -> str:
    """The per-number capability provider that answers for ``operator``'s numbers: one
    that names it (BotHub for Orange), else the first that serves any operator."""
    per_number = [p for p in CAPABILITY.values() if p.per_number]
    return next((p.name for p in per_number if operator in p.operators),
                next(p.name for p in per_number if not p.operators))


#: the capability providers ``probe`` can send one request of
PROBED: tuple[str, ...] = tuple(n for n, p in CAPABILITY.items() if p.probed)


def probe_options() -> tuple[str, ...]:
    """The options of the services ``probe`` can ask (the entries it probes: the
    operator look-up first, then the capability providers), each once: their option
    groups' ``one_request`` options. A new probed provider brings its own."""
    names: dict[str, None] = {}
    for entry in (*OPERATOR.values(), *CAPABILITY.values()):
        if entry.probed:
            group = entry.options
            names.update(dict.fromkeys(group.one_request
                                       or [f.name for f, _ in declared(group)]))
    return tuple(names)


def service_urls(s: Settings) -> list[tuple[str, str]]:
    """Every URL option the run's services read, for the checks before it starts."""
    names = [s.capability, s.other_route]
    out = [u for n in names if n and n in CAPABILITY for u in CAPABILITY[n].urls(s)]
    out += OPERATOR["mnp"].urls(s)
    return list(dict.fromkeys(out))


def lookup_plan(s: Settings, service: str, n: int) -> RequestPlan:
    """What asking ``n`` numbers of ``service`` (a registry name) costs at the quota."""
    entry = CAPABILITY.get(service) or OPERATOR.get(service)
    if entry is None:
        raise ConfigurationError(f"unknown service {service}")
    return entry.plan(s, n)
