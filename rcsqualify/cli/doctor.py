"""``rcsqualify doctor``: check a set-up before the first run, one line per check
(issue #26 item 2).

A first run that fails on the fourth thing it needs teaches one problem at a time, and
checking credentials should not cost a look-up. ``doctor`` reads the settings exactly as
``check`` would (the same options, profile and environment: ``config show``'s way) and
checks, each as one line ``ok``, ``warn`` or ``fail`` with the fix:

- the configuration file and the profile;
- the credentials: a token request where the service has a token endpoint (Orange's
  OAuth, the RBM service account); for MNP services without one (Twilio, hlr-lookups, a
  bearer token) that the variables are there, and a warning that they are "not checked
  without a look-up" (``rcsqualify probe`` makes one);
- each configured service answers HTTP (any status: reachable; a 5xx warned
  about);
- the cache and its key, as a run would open them (nothing is created);
- Redis and the quota store (reachable, an evicting policy);
- the ARCEP plan's and the portability store's age;
- the clock's offset against the services' ``Date`` headers (a signed request carries
  the local time);
- the locale and the encoding (cron's C locale: reports in French, ASCII file names).

Exit 0 when everything is ok or only warned about, 1 when a check failed, 2 for a bad
option. Nothing is written, no number is looked up; secrets are never printed.
"""

# annotations evaluated at import: see cli/base.py; what the checks use is imported by
# each check (a 'check' run imports this module too: start-up, issue #18)

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from rcsqualify.cli.base import CheckedProfile, ConfigFile, Debug, app, reports_errors
from rcsqualify.errors import RcsQualifyError
from rcsqualify.l10n import noun
from rcsqualify.textsafe import safe_line

#: a clock this far from a service's ``Date`` header is told (hlr-lookups refuses
#: signatures over 30 s off: ``operators/mnp.py``)
CLOCK_TOLERANCE = 30.0
LEVELS = ("ok", "warn", "fail")
#: the local clock, replaced in tests
now: Callable[[], float] = time.time


@dataclass
class Finding:
    level: str  # ok | warn | fail
    what: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.level.upper()} {self.what}: {self.detail}"
        return safe_line(text + (f" — fix: {self.fix}" if self.fix else ""))


@dataclass
class Doctor:
    """The checks, in order; ``dates`` collects (service, offset in seconds)."""

    settings: Any
    findings: list[Finding] = field(default_factory=list)
    dates: list[tuple[str, float]] = field(default_factory=list)
    #: the profile the settings came from: a line naming a credential variable names
    #: the one the profile reads instead (``env:AGG_ID``), as ``check``'s errors do
    profile: Any = None  # config.Profile (imported lazily: a 'check' run imports this)

    def add(self, level: str, what: str, detail: str, fix: str = "") -> Finding:
        if self.profile is not None:  # the detail only: a fix's 'export VAR=' stays a command
            from rcsqualify.config import credentials_as_read

            detail = credentials_as_read(detail, self.profile)
        finding = Finding(level, what, detail, fix)
        self.findings.append(finding)
        typer.echo(finding.line())
        return finding


def _services(s: Any) -> Iterator[tuple[str, str]]:
    """(name, URL) of every server the settings would ask, as the registry names them."""
    from rcsqualify.providers import in_use

    for entry in in_use(s):
        yield from entry.endpoints(s)


async def _reach(client: Any, url: str) -> tuple[int, str | None, str | None]:
    """The status, ``Date`` and ``Location`` headers of a GET of ``url``, its body never
    read (a redirect is not followed: a run does not follow one either)."""
    import httpx

    async with client.stream("GET", url) as response:
        location = response.headers.get("location")
        try:  # where a redirect goes, as an absolute URL (None: none or unreadable)
            moved = str(response.url.join(location)) if location else None
        except (httpx.InvalidURL, ValueError):
            moved = None
        return response.status_code, response.headers.get("date"), moved


def reached(what: str, shown: str, status: int,
            location: str | None = None) -> tuple[str, str, str, str]:
    """The finding of a service that answered the probe with ``status``. The probe is a
    GET of the service's base URL with no number and no credentials, so a 4xx (404, 405,
    401...) is what a healthy service answers: it says so, or "OK ... (HTTP 404)" reads
    as a contradiction. Not so three answers that say a run will fail or slow down, none
    of them about the missing number: a 407 is a proxy on the way refusing the request
    (every look-up will get it), a 429 the service limiting this client right now. A
    3xx is reachable, and where it goes is said: a run follows no redirect, so a service
    that moved fails every look-up; but an origin (the MNP probe) that sends a browser
    to the service's home page is no fault, hence no warning. A 5xx is the server
    failing: reachable, but a warning."""
    from rcsqualify.masking import mask_url

    if status >= 500:
        return ("warn", what, f"{shown} reachable, but it answered HTTP {status}, a server "
                "error: the service may be failing (a run retries such answers)",
                "run doctor again later; if it lasts, ask the service's operator")
    if status == 407:
        return ("fail", what, f"{shown}: a proxy on the way answered HTTP 407 (proxy "
                "authentication required): every look-up would be refused",
                "give the proxy's credentials in HTTPS_PROXY/HTTP_PROXY "
                "(http://user:password@proxy:port) or set NO_PROXY for this host")
    if status == 429:
        return ("warn", what, f"{shown} reachable, but it answered HTTP 429 (too many "
                "requests): the service is limiting this client now; a run would wait "
                "or leave look-ups unverified", "lower --rate, or wait for the quota to "
                "reset and run doctor again")
    if 300 <= status < 400:
        try:
            moved = f" to {mask_url(location)}" if location else ""
        except ValueError:  # a port out of range: the server's text, not ours to quote
            moved = ""
        return ("ok", what, f"{shown} reachable (HTTP {status}, a redirect{moved}; a run "
                "follows no redirect: if the service moved there, give its new URL)", "")
    if status >= 400:
        return ("ok", what, f"{shown} reachable (answered HTTP {status} to a probe without "
                "a number or credentials, as expected)", "")
    return ("ok", what, f"{shown} reachable (HTTP {status})", "")


def check_services(doc: Doctor) -> None:
    import asyncio
    import email.utils

    import httpx

    from rcsqualify.masking import mask_url
    from rcsqualify.remote.failures import describe_transport, transport_kind

    services = list(_services(doc.settings))
    if not services:
        doc.add("ok", "services", "none configured (an offline run: --capability none, no "
                "MNP service)")
        return

    async def run() -> None:
        async with httpx.AsyncClient(timeout=doc.settings.timeout) as client:
            for name, url in services:
                try:
                    status, date, location = await _reach(client, url)
                except (httpx.HTTPError, OSError, TimeoutError) as exc:
                    kind = transport_kind(exc)
                    doc.add("fail", f"service {name}", f"{mask_url(url)}: "
                            f"{describe_transport(kind, url)}",
                            "check the URL, the network and the proxy settings")
                    continue
                doc.add(*reached(f"service {name}", mask_url(url), status, location))
                parsed = email.utils.parsedate_to_datetime(date) if date else None
                if parsed is not None:
                    doc.dates.append((name, parsed.timestamp() - now()))

    asyncio.run(run())


def check_credentials(doc: Doctor) -> None:
    """Each service family's credentials once (``CREDENTIAL_CHECKS``); a family this
    command has no check for is said to be unchecked, never passed over."""
    from rcsqualify.providers import in_use

    entries = in_use(doc.settings)
    for entry in entries:
        check = CREDENTIAL_CHECKS.get(entry.family)
        if check is None:
            doc.add("warn", f"{entry.label} credentials", "not checked (doctor has no "
                    "check for this service)", f"rcsqualify probe --capability {entry.name} "
                    "NUMBER makes one look-up" if entry.probed else "")
        else:
            check(doc)
    if not entries:
        doc.add("ok", "credentials", "none needed (no service configured)")


def _bothub_token(doc: Doctor) -> None:
    import asyncio

    import httpx

    from rcsqualify.config import credential_env
    from rcsqualify.remote.tokens import ClientCredentialsToken

    s = doc.settings
    names = ("RCSQUALIFY_BOTHUB_CLIENT_ID", "RCSQUALIFY_BOTHUB_CLIENT_SECRET")
    # the variables the profile points at that are not set: named once, with the command
    unset = [ref[4:] for n in names
             if (ref := s.credential_refs.get(n, "")).startswith("env:")
             and not os.environ.get(ref[4:], "").strip()]
    if unset:
        doc.add("fail", "BotHub credentials", f"{' and '.join(unset)} not set (the profile "
                f"reads {'it' if len(unset) == 1 else 'them'})",
                f"export {unset[0]}=… (under cron: in the job's environment file)")
        return
    try:
        env = credential_env(s.credential_refs, names)
    except RcsQualifyError as exc:
        doc.add("fail", "BotHub credentials", str(exc), "set the variable the profile names")
        return
    missing = [n for n in names if not env.get(n, "").strip()]
    if missing:
        doc.add("fail", "BotHub credentials", f"{' and '.join(missing)} not set",
                f"export {missing[0]}=… (under cron: in the job's environment file), or "
                "bothub-client-id/-secret = \"env:VAR\" in the profile")
        return
    if not s.bot_id:
        doc.add("fail", "BotHub bot", "no bot id", "--bot-id, RCSQUALIFY_BOTHUB_BOT_ID or "
                "bot-id in the profile")
    source = ClientCredentialsToken(s.bothub_token_url, env[names[0]].strip(),
                                    env[names[1]].strip(), policy=s.http_policy())

    async def fetch() -> None:
        async with httpx.AsyncClient(timeout=s.timeout) as client:
            await source.token(client)

    try:
        asyncio.run(fetch())
    except RcsQualifyError as exc:
        doc.add("fail", "BotHub credentials", str(exc),
                "check the client id and secret (and that they are for this token URL)")
    except Exception:
        doc.add("fail", "BotHub credentials", source.failure or "no token",
                "retry later, or check --bothub-token-url")
    else:
        doc.add("ok", "BotHub credentials", "a token was granted")


def _rbm_token(doc: Doctor) -> None:
    import asyncio

    import httpx

    from rcsqualify.capability.rbm import ServiceAccountToken

    s = doc.settings
    path = s.rbm_credentials or (
        Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"])
        if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") else None)
    if path is None:
        doc.add("fail", "RBM credentials", "no service-account file",
                "--rbm-credentials, RCSQUALIFY_RBM_CREDENTIALS or rbm-credentials in the "
                "profile")
        return

    async def fetch() -> None:
        async with httpx.AsyncClient(timeout=s.timeout) as client:
            await ServiceAccountToken(path).token(client)

    try:
        asyncio.run(fetch())
    except RcsQualifyError as exc:
        doc.add("fail", "RBM credentials", str(exc), "check the service-account file")
    except Exception as exc:
        doc.add("fail", "RBM credentials", f"no token ({type(exc).__name__})",
                "check the service-account file and its token_uri")
    else:
        doc.add("ok", "RBM credentials", "a token was granted")


def _mnp_credentials(doc: Doctor) -> None:
    from rcsqualify.wiring import mnp_profile_parts

    try:
        profile, _, credentials = mnp_profile_parts(doc.settings.mnp,
                                                   doc.settings.credential_refs)
    except RcsQualifyError as exc:
        doc.add("fail", "MNP credentials", str(exc), "set the variables the message names")
        return
    if credentials.scheme == "none":
        doc.add("ok", "MNP credentials", f"{profile.name}: none sent (none needed, or the "
                "optional token is not set)")
        return
    refs = doc.settings.credential_refs
    read = [refs[n].partition(":")[2] if n in refs else n  # the variables the profile reads
            for n in profile.credential_names]
    chosen = doc.settings.profile
    which = f"--profile {chosen}" if chosen else f"--mnp-profile {profile.name}"
    doc.add("warn", "MNP credentials",
            f"{profile.name}: {' and '.join(read)} set, not checked without a look-up (the "
            "service has no token endpoint)",
            f"rcsqualify probe {which} NUMBER makes one look-up")


#: service family (the registry's ``Provider.family``) → how ``doctor`` checks its
#: credentials: a token request where the service grants one
CREDENTIAL_CHECKS: dict[str, Callable[[Doctor], None]] = {
    "bothub": _bothub_token, "rbm": _rbm_token, "mnp": _mnp_credentials}


def check_cache(doc: Doctor) -> None:
    from rcsqualify.remote.cache import LookupCache, default_cache_dir
    from rcsqualify.remote.cachekey import given_key, in_ci
    from rcsqualify.remote.redis_conn import is_redis_url
    from rcsqualify.wiring import cache_key_options

    s = doc.settings
    if s.no_cache:
        doc.add("ok", "cache", "off (--no-cache)")
        return
    directory = s.cache_dir or default_cache_dir()
    redis = is_redis_url(s.cache_url)
    if not redis and s.cache_url:
        directory = Path(s.cache_url.removeprefix("file://"))
    if not redis and not directory.exists():
        doc.add("ok", "cache", f"none yet at {directory} (the first run makes it)")
        return
    try:
        options = cache_key_options(s.cache_key_file, s.cache_key_in_store, s.credential_refs)
        # "inspect": nothing is written (a "use" would record the key's fingerprint)
        cache = LookupCache(s.cache_dir, url=s.cache_url, need="inspect", key=options)
    except RcsQualifyError as exc:
        doc.add("fail", "cache", str(exc), "see 'The cache key' in the documentation")
        return
    try:
        shared = "a Redis server" if redis else "saved by CI" if in_ci(os.environ) else ""
        given = given_key(options, os.environ, None if redis else directory)
        # a new cache holds no key yet; a key given now is not ignored: the first write
        # keys the cache with it and records its fingerprint (remote/cachekey.py)
        new = (f"no key recorded yet: the first write uses the key from {given[1]} and "
               "records its fingerprint" if given is not None else "no key yet")
        place = {"inside": "its key stored inside it", "outside": "its key kept outside",
                 "none": new}.get(cache.key_place, cache.key_place)
        if cache.key_place == "outside" and given is None:
            doc.add("fail", "cache", f"{cache.location} is keyed by a key kept outside it, "
                    "and none is given: a run would stop",
                    "give the same key as the other runs: RCSQUALIFY_CACHE_KEY or "
                    "--cache-key-file FILE")
        elif (cache.key_place == "none" and shared and not s.cache_key_in_store
                and given is None):
            # what the first run would stop on (remote/cachekey.py: settle_key)
            doc.add("fail", "cache", f"{cache.location} is shared ({shared}) and no key is "
                    "given: the first run would stop rather than store the key inside it",
                    "RCSQUALIFY_CACHE_KEY (openssl rand -hex 32, the same on every host) or "
                    "--cache-key-file FILE")
        else:
            doc.add("ok", "cache", f"{cache.location}, {place}")
        for note in cache.notes:
            doc.add("warn", "cache key", note)
    finally:
        cache.close()


def check_quota(doc: Doctor) -> None:
    from rcsqualify.remote.redis_conn import is_redis_url

    s = doc.settings
    url = s.quota_store or (s.cache_url if is_redis_url(s.cache_url) else None)
    if not url:
        where = os.environ.get("RCSQUALIFY_QUOTA_DIR") or "the user state directory"
        doc.add("ok", "quota store", f"this machine's ({where}): runs on this machine share "
                "one schedule per service")
        return
    if not is_redis_url(url):
        doc.add("fail", "quota store", "--quota-store must be a redis:// or rediss:// URL")
        return
    from rcsqualify.remote.pacing import QuotaStore

    try:
        store = QuotaStore(url)
    except RcsQualifyError as exc:
        doc.add("fail", "Redis quota store", str(exc), "check the URL, the password "
                "(RCSQUALIFY_REDIS_PASSWORD) and that the server is the primary")
        return
    from rcsqualify.masking import mask_url

    doc.add("ok", "Redis quota store", f"{mask_url(url)} reachable: every host shares one "
            "schedule per service")
    for warning in store.warnings:
        doc.add("warn", "Redis", warning, "maxmemory-policy noeviction")


def check_data(doc: Doctor) -> None:
    import datetime as dt

    from rcsqualify.numbering.plan import load_plan
    from rcsqualify.report.summary import PLAN_MAX_AGE_DAYS

    today = dt.datetime.fromtimestamp(now(), dt.UTC).date()
    snapshot = load_plan().snapshot
    age = (today - snapshot).days
    if age > PLAN_MAX_AGE_DAYS:
        doc.add("warn", "ARCEP plan", f"{snapshot.isoformat()}, {age} days old (over "
                f"{PLAN_MAX_AGE_DAYS}): blocks allocated since read as unallocated",
                "download MAJNUM.csv from ARCEP's open data and run 'rcsqualify plan update "
                "MAJNUM.csv'")
    else:
        doc.add("ok", "ARCEP plan", f"{snapshot.isoformat()}, {age} days old")
    s = doc.settings
    for extract in s.portability:
        if not Path(extract).is_file():
            doc.add("fail", "portability extract", f"{extract}: no such file")
    if s.portability_db is None:
        if not s.portability:
            doc.add("ok", "portability store", "none configured")
        return
    from rcsqualify.operators.port_dates import age_days
    from rcsqualify.operators.portability_store import store_info

    try:
        info = store_info(Path(s.portability_db))
    except RcsQualifyError as exc:
        doc.add("fail", "portability store", str(exc), "rcsqualify portability import "
                "--into STORE EXTRACT")
        return
    newest = info.get("newest_date")
    days = age_days(newest, today)
    if days is None:
        doc.add("warn", "portability store", f"{s.portability_db}: age unknown (no dates)")
    elif days > s.portability_max_age:
        doc.add("warn", "portability store", f"{s.portability_db}: newest port date "
                f"{newest}, {days} days old (over {s.portability_max_age})",
                "apply the latest deltas: rcsqualify portability import --delta --into "
                "STORE DELTA…")
    else:
        doc.add("ok", "portability store", f"{s.portability_db}: newest port date {newest}, "
                f"{days} days old")


def check_clock(doc: Doctor) -> None:
    if not doc.dates:
        doc.add("ok", "clock", "not measured (no service answered with a Date header)")
        return
    name, offset = max(doc.dates, key=lambda d: abs(d[1]))
    if abs(offset) > CLOCK_TOLERANCE:
        signed = doc.settings.mnp_profile == "hlr-lookups"
        doc.add("fail" if signed else "warn", "clock",
                f"{abs(offset):.0f} s {'behind' if offset > 0 else 'ahead of'} {name}'s Date "
                "header" + (" (signed MNP requests will be refused)" if signed else ""),
                "set the clock right (NTP: timedatectl set-ntp true)")
    else:
        doc.add("ok", "clock", f"within {CLOCK_TOLERANCE:.0f} s of the services' Date "
                f"headers ({abs(offset):.0f} s)")


def check_locale(doc: Doctor) -> None:
    import locale

    from rcsqualify.ci import report_lang

    encodings = {"preferred": locale.getpreferredencoding(False),
                 "file names": sys.getfilesystemencoding()}
    bad = [f"{k} {v}" for k, v in encodings.items()
           if v.lower().replace("-", "") != "utf8"]
    lang = report_lang(doc.settings)
    said = {"fr": "French", "en": "English"}.get(lang, lang)
    where = ("--lang or the profile" if doc.settings.lang else
             "the locale (" + (os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES")
                               or os.environ.get("LANG") or "unset") + ")")
    if bad:
        doc.add("warn", "locale", f"encoding {', '.join(bad)}: names and text outside ASCII "
                f"may be misread; reports in {said} (from {where})",
                "LANG=C.UTF-8 (in a crontab: a line LANG=C.UTF-8)")
    else:
        doc.add("ok", "locale", f"UTF-8; reports in {said} (from {where})")


def check_configuration(ctx: typer.Context, config: Path | None, profile: str | None
                        ) -> tuple[Any, Finding, Any]:
    """The settings ``check`` would use, the configuration's line and the profile."""
    from rcsqualify.cli.check import check_settings, raise_naming_the_profile
    from rcsqualify.config import apply_profile, config_file, default_config_path, profile_of

    root = ctx.find_root()
    check_command = root.command.commands["check"]  # type: ignore[attr-defined]
    args = ["-", *(["--config", str(config)] if config else []),
            *(["--profile", profile] if profile else [])]
    check_ctx = check_command.make_context("check", args, parent=root)
    values = apply_profile(check_ctx, dict(check_ctx.params))
    try:
        settings = check_settings(check_ctx, values)
    except RcsQualifyError as exc:
        raise_naming_the_profile(check_ctx, exc)  # the file and key, as check says
        raise
    path = config_file(config)
    if path is None:
        return settings, Finding("ok", "configuration", f"no config file ({default_config_path()}"
                                 "): defaults and environment variables",
                                 "" if profile is None else "rcsqualify init"), None
    return settings, Finding("ok", "configuration", f"{path}" + (
        f", profile {profile}" if profile else ", no profile chosen")), profile_of(check_ctx)


@app.command()
@reports_errors
def doctor(
    ctx: typer.Context,
    config: ConfigFile = None,
    profile: CheckedProfile = None,
    debug: Debug = False,
) -> None:
    """Check the set-up a run would use, one line each (ok, warn, fail) with the fix:
    configuration and profile, credentials, services, cache and key, Redis and quota,
    ARCEP plan and portability store age, clock, locale. Exit 0: all ok or warnings
    only; 1: a check failed; 2: a bad option. No number is looked up."""
    try:
        settings, line, chosen = check_configuration(ctx, config, profile)
    except RcsQualifyError as exc:
        typer.echo(Finding("fail", "configuration", str(exc), "rcsqualify init, or fix the "
                           "file the message names").line())
        typer.echo("doctor: the configuration must be fixed first; nothing else was checked")
        raise typer.Exit(1) from None
    doc = Doctor(settings, profile=chosen)
    doc.findings.append(line)
    typer.echo(line.line())
    for step in (check_credentials, check_services, check_cache, check_quota, check_data,
                 check_clock, check_locale):
        try:
            step(doc)
        except RcsQualifyError as exc:  # a check that could not be made is a failure
            doc.add("fail", step.__name__.removeprefix("check_"), str(exc))
    counts = {level: sum(f.level == level for f in doc.findings) for level in LEVELS}
    typer.echo(f"doctor: {counts['ok']} ok, {noun(counts['warn'], 'warning')}, "
               f"{noun(counts['fail'], 'failure')}")
    raise typer.Exit(1 if counts["fail"] else 0)
