"""MNP/HLR look-up profiles: how one service is asked and what its answers mean.

A profile is a small TOML file (read with ``tomllib``); three ship with rcsqualify in
``rcsqualify/data/mnp_profiles/`` (``generic``, ``twilio``, ``hlr-lookups``) and a user
may give the path of their own (``--mnp-profile ./myhlr.toml``). Everything a service
does differently is data here; ``operators/mnp.py`` runs any profile the same way.

The format (every key, with the defaults)::

    name = "myhlr"                        # label in messages and the cache scope
    description = "…"                     # free text
    url = "https://api.example.com"       # default base URL (--mnp-url overrides it)
    # or regions: base URL per region, region the default one (--mnp-region picks one)
    # region = "us1"
    # regions = { us1 = "https://api.example.com", ie1 = "https://ie1.example.com" }

    [request]
    method = "GET"                        # GET or POST
    path = "/v1/lookup/{msisdn}"          # appended to the base URL; {msisdn} = E.164,
                                          # URL-encoded (+ as %2B)
    query = { fields = "network" }        # query parameters; values may hold {msisdn}
    body = '{"msisdn": "{msisdn}"}'       # POST: a JSON template, {msisdn} replaced
                                          # inside strings; sent compact

    [auth]
    scheme = "none"                       # none | bearer | basic | digest
    optional = false                      # true: send without credentials when unset
    signed_prefix = ""                    # digest: part of the path the signature skips

    [answer]
    ok = [200]                            # statuses whose JSON body is an answer
    unknown_statuses = []                 # a JSON object with one of these statuses
                                          # means "the service does not know the number"
    network = ["mccmnc"]                  # dotted paths; the first non-empty one holds
                                          # an MCC-MNC (or an ARCEP code)
    mcc = ""                              # or two paths, MCC and MNC, joined
    mnc = ""

    [[answer.error]]                      # rules, first match wins; checked first
    path = "status"                       # dotted path into the JSON answer
    not_in = [0]                          # predicates, all must hold: equals, in,
                                          # not_in (present scalars only), present, truthy
    transient = false                     # true: retried (then a failure)
    kind = "busy"                         # label counted in the report (error_<kind>)

    [[answer.stop]]                       # same rules: a misconfiguration, the run
    path = "code"                         # stops (exit 2) with this one line, at once
    in = [60614]
    message = "use the IE1 region"
    # [answer] stop_statuses = [400, 403]: error statuses whose JSON body the stop rules
    # read (any other answer with them is a configuration error too)

    [[answer.unknown]]                    # same rules: "does not know the number"
    path = "valid"
    equals = false

    [[answer.unassigned]]                 # same rules: "no subscriber holds the number"
    path = "connectivity_status"          # (an HLR's dead-number answer)
    equals = "INVALID_MSISDN"

An answer is judged in this order (CONTRACT §10, recognized answers only): a stop rule
matches → a configuration error naming its message (exit 2); an error
rule matches → a failure, never cached (retried first when ``transient``); an unknown
rule matches → unknown (cached; the range holder answers); an unassigned rule matches →
the number is ``invalid`` / ``unassigned`` (cached: a message to it would fail); the
network field(s) hold an
MCC-MNC or an ARCEP code → that operator (cached); anything else (missing field, a value
of another shape, not an object) → a failure, never cached.

Credentials are never in a profile: they come from the environment, by scheme —
``RCSQUALIFY_MNP_TOKEN`` (bearer), ``RCSQUALIFY_MNP_USER`` / ``RCSQUALIFY_MNP_PASSWORD``
(basic), ``RCSQUALIFY_MNP_KEY`` / ``RCSQUALIFY_MNP_SECRET`` (digest).

The ``digest`` scheme is hlr-lookups.com's: headers ``X-Digest-Key`` (the key),
``X-Digest-Timestamp`` (Unix seconds) and ``X-Digest-Signature``, the hex HMAC-SHA256,
keyed with the secret, of ``path + timestamp + METHOD + body`` where ``path`` is the
endpoint after the API version (``/hlr-lookup`` for ``/api/v2/hlr-lookup``) and ``body``
the exact bytes sent — as the service's own SDKs build it (vmgltd/hlr-lookup-api-php-sdk
``buildAuthHeaders``, hlr-lookup-api-nodejs-sdk ``buildConfig``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rcsqualify.errors import ConfigurationError, InputError

BUILTIN = ("generic", "twilio", "hlr-lookups")
SCHEMES = ("none", "bearer", "basic", "digest")
#: environment variables per auth scheme (CONTRACT §9: secrets from the environment)
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("RCSQUALIFY_MNP_TOKEN",),
    "basic": ("RCSQUALIFY_MNP_USER", "RCSQUALIFY_MNP_PASSWORD"),
    "digest": ("RCSQUALIFY_MNP_KEY", "RCSQUALIFY_MNP_SECRET"),
}
PREDICATES = ("equals", "in", "not_in", "present", "truthy")
_MISSING = object()
_KIND = re.compile(r"[a-z0-9_]{1,40}")
_PATH = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")


class ProfileError(InputError):
    """A profile that does not validate: names the file and the field (exit 2)."""


@dataclass(frozen=True)
class Rule:
    """One condition on a dotted path of the JSON answer; all its predicates must hold."""

    path: str
    predicates: dict[str, Any]
    transient: bool = False
    kind: str = ""

    def matches(self, body: Any) -> bool:
        value = dig(body, self.path)
        present = value is not _MISSING and value is not None
        for name, expected in self.predicates.items():
            if name == "present":
                ok = present is expected
            elif name == "truthy":
                ok = (present and bool(value)) is expected
            elif not present or isinstance(value, dict | list):
                ok = False  # equals/in/not_in compare present scalars only
            elif name == "equals":
                ok = _same(value, expected)
            elif name == "in":
                ok = any(_same(value, e) for e in expected)
            else:  # not_in
                ok = not any(_same(value, e) for e in expected)
            if not ok:
                return False
        return True


@dataclass(frozen=True)
class Profile:
    name: str
    source: str  # "built-in" or the file's path, for messages
    description: str = ""
    url: str = ""
    method: str = "GET"
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    scheme: str = "none"
    auth_optional: bool = False
    signed_prefix: str = ""
    ok: tuple[int, ...] = (200,)
    unknown_statuses: tuple[int, ...] = ()
    network: tuple[str, ...] = ("mccmnc",)
    mcc: str = ""
    mnc: str = ""
    errors: tuple[Rule, ...] = ()
    unknown: tuple[Rule, ...] = ()
    unassigned: tuple[Rule, ...] = ()
    #: rules whose match stops the run, each with its one-line message
    stop: tuple[tuple[Rule, str], ...] = ()
    stop_statuses: tuple[int, ...] = ()
    #: base URL per region name, and the region ``url`` belongs to ("" without regions)
    regions: dict[str, str] = field(default_factory=dict)
    region: str = ""

    @property
    def is_template(self) -> bool:
        """``generic``: ``--mnp-url`` is the whole URL template, not a base URL."""
        return self.name == "generic" and self.source == "built-in"

    @property
    def credential_names(self) -> tuple[str, ...]:
        return CREDENTIALS[self.scheme]

    def with_field(self, name: str | None) -> Profile:
        from dataclasses import replace

        return replace(self, network=(name,)) if name else self

    def in_region(self, name: str) -> Profile:
        """This profile with the base URL of region ``name`` (``--mnp-region``); exit 2
        naming the profile's regions when it has no such one."""
        from dataclasses import replace

        key = name.strip().lower()
        if key not in self.regions:
            known = ", ".join(self.regions) or "none"
            raise ProfileError(f"--mnp-region {name!r}: the MNP profile {self.name} has no "
                               f"such region (its regions: {known})")
        return replace(self, region=key, url=self.regions[key])

    # -- building a request -------------------------------------------------------------
    def url_for(self, base: str, msisdn: str) -> str:
        encoded = quote(msisdn, safe="")
        if self.is_template:
            return base.replace("{msisdn}", encoded)
        return base.rstrip("/") + self.path.replace("{msisdn}", encoded)

    def params_for(self, msisdn: str) -> dict[str, str]:
        return {k: v.replace("{msisdn}", msisdn) for k, v in self.query.items()}

    def body_for(self, msisdn: str) -> bytes | None:
        """The exact bytes sent (and signed): the template with {msisdn} replaced inside
        its strings, compact JSON."""
        if self.body is None:
            return None
        return json.dumps(_substitute(json.loads(self.body), msisdn),
                          separators=(",", ":"), ensure_ascii=False).encode()

    def signed_path(self, msisdn: str) -> str:
        path = self.path.replace("{msisdn}", quote(msisdn, safe=""))
        if self.signed_prefix and path.startswith(self.signed_prefix):
            path = path[len(self.signed_prefix):]
        return path


def digest_signature(secret: str, path: str, timestamp: int, method: str,
                     body: bytes | None) -> str:
    """hlr-lookups.com's ``X-Digest-Signature``: hex HMAC-SHA256 of path + timestamp +
    METHOD + body, keyed with the API secret (their SDKs' construction)."""
    message = path.encode() + str(timestamp).encode() + method.upper().encode() + (body or b"")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path (``a.b.0.c``: list items by index), or ``_MISSING``."""
    cur = body
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return _MISSING
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def is_missing(value: Any) -> bool:
    return value is _MISSING or value is None or value == ""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _substitute(value: Any, msisdn: str) -> Any:
    if isinstance(value, str):
        return value.replace("{msisdn}", msisdn)
    if isinstance(value, list):
        return [_substitute(v, msisdn) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, msisdn) for k, v in value.items()}
    return value


# -- loading and validating ----------------------------------------------------------------

def load_profile(spec: str) -> Profile:
    """A built-in profile by name, or a user's profile file by path (exit 2 naming the
    file and the field when it does not validate)."""
    if spec in BUILTIN:
        text = (resources.files("rcsqualify") / "data" / "mnp_profiles" / f"{spec}.toml"
                ).read_text(encoding="utf-8")
        return parse_profile(text, "built-in", expected_name=spec)
    looks_like_path = spec.endswith(".toml") or "/" in spec or os.sep in spec
    if not looks_like_path:
        raise ProfileError(f"--mnp-profile {spec!r}: no such profile; built-in profiles are "
                           f"{', '.join(BUILTIN)}, or give the path of a .toml profile file")
    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such MNP profile file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read the MNP profile file "
                           f"({getattr(exc, 'strerror', None) or type(exc).__name__})"
                           ) from None
    return parse_profile(text, str(path))


def parse_profile(text: str, source: str, *, expected_name: str | None = None) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{source}: not valid TOML ({exc})") from None
    v = _Validator(source)
    v.only(data, "", ("name", "description", "url", "region", "regions", "request", "auth",
                      "answer"))
    name = v.string(data, "name", required=True)
    if expected_name and name != expected_name:
        raise ProfileError(f"{source}: field 'name' is {name!r}, expected {expected_name!r}")
    request = v.table(data, "request")
    auth = v.table(data, "auth")
    answer = v.table(data, "answer")
    v.only(request, "request", ("method", "path", "query", "body"))
    v.only(auth, "auth", ("scheme", "optional", "signed_prefix"))
    v.only(answer, "answer", ("ok", "unknown_statuses", "network", "mcc", "mnc", "error",
                              "unknown", "unassigned", "stop", "stop_statuses"))
    method = v.string(request, "method", "request.", default="GET").upper()
    if method not in ("GET", "POST"):
        v.fail("request.method", "must be GET or POST")
    path = v.string(request, "path", "request.", default="")
    builtin_generic = name == "generic" and source == "built-in"
    if not builtin_generic:
        if not path.startswith("/"):
            v.fail("request.path", "must start with / (it is appended to the base URL)")
        if "{msisdn}" not in path and "{msisdn}" not in json.dumps(request.get("query", {})) \
                and "{msisdn}" not in str(request.get("body", "")):
            v.fail("request.path", "the number ({msisdn}) must appear in the path, the query "
                   "or the body")
    query_raw = v.table(request, "query", "request.")
    query = {}
    for key, value in query_raw.items():
        if not isinstance(value, str):
            v.fail(f"request.query.{key}", "must be a string")
        query[str(key)] = value
    body = request.get("body")
    if body is not None:
        if not isinstance(body, str):
            v.fail("request.body", "must be a string holding a JSON template")
        if method != "POST":
            v.fail("request.body", "is only sent with method = \"POST\"")
        try:
            json.loads(body)
        except ValueError:
            v.fail("request.body", "is not valid JSON")
    scheme = v.string(auth, "scheme", "auth.", default="none")
    if scheme not in SCHEMES:
        v.fail("auth.scheme", f"must be one of {', '.join(SCHEMES)}")
    optional = auth.get("optional", False)
    if not isinstance(optional, bool):
        v.fail("auth.optional", "must be true or false")
    signed_prefix = v.string(auth, "signed_prefix", "auth.", default="")
    url = v.string(data, "url", default="")
    if url and not url.startswith(("http://", "https://")):
        v.fail("url", "must be an http:// or https:// URL")
    regions_raw = v.table(data, "regions")
    regions: dict[str, str] = {}
    for key, value in regions_raw.items():
        if not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            v.fail(f"regions.{key}", "must be an http:// or https:// URL")
        regions[str(key).lower()] = value
    region = v.string(data, "region", default="").lower()
    if region:
        if region not in regions:
            v.fail("region", f"must be one of the profile's regions "
                   f"({', '.join(regions) or 'none: add a [regions] table'})")
        if url:
            v.fail("url", "give either url or region (whose URL is in [regions]), not both")
        url = regions[region]
    ok = v.statuses(answer, "ok", default=(200,))
    unknown_statuses = v.statuses(answer, "unknown_statuses", default=())
    stop_statuses = v.statuses(answer, "stop_statuses", default=())
    network_raw = answer.get("network", [] if "mcc" in answer else ["mccmnc"])
    if isinstance(network_raw, str):
        network_raw = [network_raw]
    if not isinstance(network_raw, list) or not all(
            isinstance(p, str) and _PATH.fullmatch(p) for p in network_raw):
        v.fail("answer.network", "must be a dotted path or a list of dotted paths")
    mcc = v.string(answer, "mcc", "answer.", default="")
    mnc = v.string(answer, "mnc", "answer.", default="")
    if bool(mcc) != bool(mnc):
        v.fail("answer.mcc" if not mcc else "answer.mnc", "is missing (mcc and mnc go "
               "together)")
    for key, value in (("mcc", mcc), ("mnc", mnc)):
        if value and not _PATH.fullmatch(value):
            v.fail(f"answer.{key}", "must be a dotted path")
    if mcc and network_raw:
        v.fail("answer.network", "give either network or mcc + mnc, not both")
    if not mcc and not network_raw:
        v.fail("answer.network", "is required (or mcc + mnc)")
    return Profile(
        name=name, source=source, description=v.string(data, "description", default=""),
        url=url, method=method, path=path, query=query, body=body, scheme=scheme,
        auth_optional=optional, signed_prefix=signed_prefix, ok=ok,
        unknown_statuses=unknown_statuses, network=tuple(network_raw), mcc=mcc, mnc=mnc,
        errors=v.rules(answer, "error"), unknown=v.rules(answer, "unknown"),
        unassigned=v.rules(answer, "unassigned"), stop=v.stop_rules(answer),
        stop_statuses=stop_statuses, regions=regions, region=region)


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> None:
        raise ProfileError(f"{self.source}: field '{where}' {what}")

    def only(self, table: dict[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                where = f"{prefix}.{key}" if prefix else key
                self.fail(where, f"is not a profile field (expected one of "
                          f"{', '.join(allowed)})")

    def table(self, data: dict[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.fail(prefix + key, "must be a table")
        return value

    def string(self, data: dict[str, Any], key: str, prefix: str = "", *,
               required: bool = False, default: str = "") -> str:
        if key not in data:
            if required:
                self.fail(prefix + key, "is required")
            return default
        value = data[key]
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(prefix + key, "must be a non-empty string" if required
                      else "must be a string")
        return value

    def statuses(self, data: dict[str, Any], key: str, *, default: tuple[int, ...]
                 ) -> tuple[int, ...]:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and 200 <= s <= 599
                for s in value):
            self.fail(f"answer.{key}", "must be a list of HTTP statuses (200-599)")
        return tuple(value)

    def stop_rules(self, answer: dict[str, Any]) -> tuple[tuple[Rule, str], ...]:
        """``[[answer.stop]]``: rules with the one-line ``message`` their match stops on."""
        raw = answer.get("stop", [])
        messages = []
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            message = item.pop("message", None) if isinstance(item, dict) else None
            if not isinstance(message, str) or not message.strip() or "\n" in message:
                self.fail(f"answer.stop[{i}].message", "is required: one line saying what "
                          "to change")
            messages.append(str(message).strip())
        return tuple(zip(self.rules(answer, "stop"), messages, strict=True))

    def rules(self, answer: dict[str, Any], key: str) -> tuple[Rule, ...]:
        raw = answer.get(key, [])
        if not isinstance(raw, list):
            self.fail(f"answer.{key}", f"must be an array of tables ([[answer.{key}]])")
        out = []
        for i, item in enumerate(raw):
            where = f"answer.{key}[{i}]"
            if not isinstance(item, dict):
                self.fail(where, "must be a table")
            self.only(item, where, ("path", *PREDICATES, "transient", "kind"))
            path = item.get("path")
            if not isinstance(path, str) or not _PATH.fullmatch(path):
                self.fail(f"{where}.path", "must be a dotted path (a.b.c)")
            predicates = {p: item[p] for p in PREDICATES if p in item}
            if not predicates:
                self.fail(where, f"needs a condition: one of {', '.join(PREDICATES)}")
            for p in ("present", "truthy"):
                if p in predicates and not isinstance(predicates[p], bool):
                    self.fail(f"{where}.{p}", "must be true or false")
            for p in ("in", "not_in"):
                if p in predicates and not isinstance(predicates[p], list):
                    self.fail(f"{where}.{p}", "must be a list")
            transient = item.get("transient", False)
            if not isinstance(transient, bool) or (transient and key != "error"):
                self.fail(f"{where}.transient", "must be true or false (errors only)")
            kind = item.get("kind", "")
            if not isinstance(kind, str) or (kind and not _KIND.fullmatch(kind)):
                self.fail(f"{where}.kind", "must be a short label of a-z, 0-9 and _")
            out.append(Rule(path, predicates, transient, kind))
        return tuple(out)


# -- credentials -------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    """Secrets for one profile's scheme, from the environment; never printed."""

    scheme: str
    values: tuple[str, ...] = ()

    @property
    def identity(self) -> str:
        """Who the quota belongs to (the user or key), for the shared schedule."""
        return self.values[0] if self.scheme in ("basic", "digest") and self.values else ""

    def secrets(self) -> list[str]:
        return [v for v in self.values if v]


def credentials_from_env(profile: Profile, env: dict[str, str] | None = None) -> Credentials:
    """The profile's credentials; exit 2 naming the variables to set when missing."""
    env = dict(os.environ) if env is None else env
    names = profile.credential_names
    values = tuple(env.get(n, "").strip() for n in names)
    if names and not all(values):
        if profile.auth_optional and not any(values):
            return Credentials("none")
        missing = [n for n, val in zip(names, values, strict=True) if not val]
        raise ConfigurationError(
            f"the MNP profile {profile.name} ({profile.scheme} auth) needs "
            f"{' and '.join(names)}: set {' and '.join(missing)} in the environment")
    return Credentials(profile.scheme, values)
