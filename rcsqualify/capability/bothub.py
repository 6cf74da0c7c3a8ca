"""Orange BotHub single capability look-up (GSMA MaaP ``contactCapabilities``).

``GET {base}/bot/v1/{botId}/contactCapabilities?userContact=%2B336…`` with Orange's
bearer token. Recognized answers only (CONTRACT §10):
- 200 with a ``capabilities`` list holding the required feature (``--require-feature``,
  default ``chatBotCommunication``; empty = any non-empty list) → reachable; a list
  without it → ``not_rcs`` / ``no_chatbot_feature``; an empty list or ``{}`` → not RCS;
- 404 with the GSMA/JSON error envelope → not RCS, unless its message is about the
  request ("Method not found.": a wrong path answering in the same envelope) or the
  envelope itself says something else: its ``code`` must be 404 and its ``status``
  ``NOT_FOUND`` (one of them at least, neither disagreeing), and nothing beside it may
  say the request failed (``requestError``, ``errorCode``…). A 404 carrying ``{"code":
  503, "status": "UNAVAILABLE"}`` or an auth error is a gateway passing on a failure;
  taking it for "not RCS" would cache a wrong verdict for 60 days;
- anything else (a plain-text or HTML 404 from a wrong path, a 200 without the list, a
  200 that says it failed whatever list it also holds) is a failure: ``unverified`` /
  ``capability_error``, nothing cached.

Orange says this call is for testing at low frequency: bases are qualified with
``bothub-bulk``; both share one cache scope (same bot, same base URL), so what a
nightly bulk run learned serves the single look-ups too. When more than ``single_warn``
numbers (``--single-warn``, default 1,000, counted after the cache) are to be asked one by
one, one warning line says so and recommends ``bothub-bulk`` (a warning, not a refusal).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from rcsqualify.capability.defaults import FEATURE as DEFAULT_FEATURE
from rcsqualify.capability.defaults import JWT_HEADER
from rcsqualify.capability.defaults import SINGLE_WARN as DEFAULT_SINGLE_WARN
from rcsqualify.capability.interface import CapabilityProvider, Tally, capability_answer
from rcsqualify.errors import ConfigurationError
from rcsqualify.files import read_secret_file
from rcsqualify.notes import note
from rcsqualify.remote.answers import about_the_request, says_failed
from rcsqualify.remote.cache import LookupCache, Scope
from rcsqualify.remote.failures import agreeing_envelope
from rcsqualify.remote.http import Answer, HttpLayer, Notify
from rcsqualify.remote.pacing import QuotaStore, Schedule, schedule_of
from rcsqualify.remote.policy import HttpPolicy
from rcsqualify.remote.tokens import ClientCredentialsToken


class GsmaJwt:
    """The bot owner's RS256 JWT (iss = bot id, scope "Chatbot message"), renewed hourly."""

    def __init__(self, key_file: Path, bot_id: str, audience: str) -> None:
        try:
            self._key = read_secret_file(key_file)
        except OSError as exc:
            raise ConfigurationError(f"cannot read the bot key file {key_file}: "
                                     f"{exc.strerror}") from exc
        self.bot_id = bot_id
        self.audience = audience
        self._token = ""
        self._exp = 0.0
        self.current()  # fail now, with a clear message, if the key is unusable

    def current(self) -> str:
        import jwt

        now = time.time()
        if now < self._exp - 300:
            return self._token
        claims = {"iss": self.bot_id, "scope": "Chatbot message", "aud": self.audience,
                  "iat": int(now), "exp": int(now) + 3600}
        try:
            self._token = jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigurationError("the bot key file is not a usable RSA private key "
                                     "(PEM)") from exc
        self._exp = now + 3600
        return self._token


def carries_error(body: Any) -> bool:
    """An answer that says it failed, whatever its status and whatever else it holds
    (``{"result": "error", "errorCode": 5001, "capabilities": []}`` is the gateway's
    failure, not an empty list): an error key, ``success`` false, or an outcome
    (``status``, ``result``…) that is not a success word."""
    return says_failed(body, strict_outcome=True)


def _about_the_bot(body: Any) -> bool:
    """A 404 envelope whose message is about the bot (wrong --bot-id), not the contact."""
    message = str(body["error"].get("message", "")).lower()
    return bool(re.search(r"\b(chat)?bot\b|botid", message)) and not re.search(
        r"contact|user|capab|msisdn|number", message)


def bothub_scope(base_url: str, bot_id: str, require_feature: str = DEFAULT_FEATURE
                 ) -> Scope:
    """The cache scope of a bot (single and bulk look-ups share it, and so does what
    ``rcsqualify learn`` learns from its campaigns). A verdict depends on the feature
    required: a cache written with another ``--require-feature`` must not answer (the
    default keeps the plain bot id)."""
    ident = bot_id if require_feature == DEFAULT_FEATURE else \
        f"{bot_id} (require {require_feature or 'any'})"
    return Scope("bothub", base_url.rstrip("/"), ident)


class BotHubProvider(CapabilityProvider):
    name = "bothub"

    def __init__(self, *, base_url: str, token_url: str, client_id: str, client_secret: str,
                 bot_id: str, cache: LookupCache, policy: HttpPolicy,
                 jwt: GsmaJwt | None = None, jwt_header: str = JWT_HEADER,
                 require_feature: str = DEFAULT_FEATURE, notify: Notify | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 schedule: Schedule | None = None, quota: QuotaStore | None = None,
                 single_warn: int | None = DEFAULT_SINGLE_WARN) -> None:
        self.base_url = base_url.rstrip("/")
        self.notify = notify
        self.single_warn = single_warn
        super().__init__(cache, bothub_scope(self.base_url, bot_id, require_feature))
        self.bot_id = bot_id
        self.policy = policy
        self.require_feature = require_feature
        self.token = ClientCredentialsToken(token_url, client_id, client_secret, policy=policy)
        extra = (lambda: {jwt_header: jwt.current()}) if jwt is not None else None
        # one quota per aggregator application: single and bulk calls share it
        self.http = HttpLayer(
            self.name, policy, token=self.token, extra_headers=extra, stats=self.stats,
            notify=notify, transport=transport,
            schedule=schedule or schedule_of(quota, "bothub", self.base_url, client_id),
            url_hint="--bothub-url (RCSQUALIFY_BOTHUB_URL) and --bot-id")

    def interpret(self, answer: Answer, url: str) -> str:
        """yes/no/nofeature for a recognized answer; raises ``Unresolved`` otherwise."""
        assert self.http is not None
        if answer.status == 404:
            err = agreeing_envelope(answer.body, 404)
            if err is not None and not about_the_request(str(err.get("message", ""))):
                if _about_the_bot(answer.body):
                    raise ConfigurationError(
                        "BotHub does not know the bot (HTTP 404 about the bot, not the "
                        "contact); check --bot-id (RCSQUALIFY_BOTHUB_BOT_ID) and "
                        "--bothub-url")
                self.http.accept(answer, "not_found")
                return self.negative(answer)
            raise self.http.reject(answer, "unrecognized_404", url)
        body = answer.body
        if carries_error(body):  # a 200 that says it failed is not a "not capable"
            raise self.http.reject(answer, "error_in_200", url)
        if body == {}:  # some MaaP platforms answer "not capable" as an empty object
            self.http.accept(answer, "empty_object")
            return self.negative(answer)
        verdict = capability_answer(body.get("capabilities") if isinstance(body, dict)
                                    else None, self.require_feature)
        if verdict is None:
            raise self.http.reject(answer, "no_capability_list", url)
        self.stats.feature_names(body["capabilities"])
        self.http.accept(answer, verdict)
        return verdict if verdict == "yes" else self.negative(answer, verdict)

    per_number = True

    async def ask(self, e164: Sequence[str], todo: list[int], out: np.ndarray,
                  tally: Tally) -> None:
        self.warn_single(len(todo))
        await super().ask(e164, todo, out, tally)

    def warn_single(self, count: int) -> None:
        """Orange: the single look-up is "strongly limited", for testing only."""
        if self.single_warn is not None and count > self.single_warn:
            warning = note("single_lookups", count=count, limit=self.single_warn)
            self.notes.append(warning)
            if self.notify is not None:
                self.notify(warning)

    #: the statuses a capability look-up answers with (404: "not RCS", or an error)
    answer_statuses = (200, 404)

    def request_parts(self, e164: str) -> tuple[str, str, dict[str, Any]]:
        """Method, URL and httpx keyword arguments of the look-up of one number (the
        token and the bot's JWT are added at the send): ``answer_one`` and ``probe``."""
        return ("GET", f"{self.base_url}/bot/v1/{self.bot_id}/contactCapabilities",
                {"params": {"userContact": e164}})

    async def answer_one(self, e164: str) -> str:
        assert self.http is not None
        method, url, kwargs = self.request_parts(e164)
        answer = await self.http.request(method, url, expected=(404,), **kwargs)
        return self.interpret(answer, url)
