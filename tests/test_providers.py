"""The provider registry and the explicit quota schedule (issue #24 item 2).

Every service is built through one registry entry, and the quota store its schedule
comes from is an argument of the factory: a provider built with a store paces on that
store's schedule, one built without it on this machine's, and nothing else (no
attribute on the cache, no context variable) can change that.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from rcsqualify import providers
from rcsqualify.remote.cache import LookupCache
from rcsqualify.remote.pacing import FileSchedule, MemorySchedule, QuotaStore, Schedule
from rcsqualify.settings import CapabilityOptions, OptionGroup, Settings
from tests.conftest import Emulator
from tests.helpers import run_cli, service_account


class RecordingQuota(QuotaStore):
    """A quota store that hands out memory schedules and records who asked."""

    def __init__(self) -> None:
        super().__init__(None)
        self.asked: list[tuple[str, ...]] = []
        self.given: list[Schedule] = []

    def schedule(self, *identity: str) -> Schedule:
        self.asked.append(identity)
        self.given.append(MemorySchedule())
        return self.given[-1]


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("RCSQUALIFY_BOTHUB_CLIENT_ID", "client")
    monkeypatch.setenv("RCSQUALIFY_BOTHUB_CLIENT_SECRET", "secret")
    return Settings(bot_id="bot", agent_id="agent", bothub_url="http://bothub.test",
                    rbm_url="http://rbm.test", mnp_url="http://mnp.test/{msisdn}",
                    rbm_credentials=service_account(tmp_path, "http://rbm.test/token"))


@pytest.mark.parametrize("name", sorted(providers.CAPABILITY))
def test_each_capability_provider_paces_on_the_quota_it_is_given(
        name: str, credentials: Settings) -> None:
    cache = LookupCache(enabled=False)
    quota = RecordingQuota()
    provider = providers.make_provider(
        Settings(**{**credentials.__dict__, "capability": name}), cache, quota)
    assert provider is not None
    assert provider.http is not None
    assert provider.http.pacer.schedule is quota.given[0]
    assert quota.asked[0][0].startswith(providers.CAPABILITY[name].family)  # batchGet: its own
    provider.close()
    # without a quota store: this machine's schedule files, whatever else is around
    alone = providers.make_provider(
        Settings(**{**credentials.__dict__, "capability": name}), cache)
    assert alone is not None and alone.http is not None
    assert isinstance(alone.http.pacer.schedule, FileSchedule)
    alone.close()


def test_the_mnp_source_paces_on_the_quota_it_is_given(credentials: Settings) -> None:
    from rcsqualify.numbering.plan import load_plan

    quota = RecordingQuota()
    source = providers.make_mnp_source(credentials, load_plan(), LookupCache(enabled=False),
                                       quota)
    assert source.http.pacer.schedule is quota.given[0]  # type: ignore[attr-defined]
    assert quota.asked == [("mnp", "http://mnp.test/", "")]
    source.close()


def test_no_hidden_quota_channel() -> None:
    """The store reaches providers through their factories only: the cache carries no
    quota, and the pacing module keeps no 'store in use' a provider could read."""
    import rcsqualify.remote.pacing as pacing

    assert not hasattr(LookupCache(enabled=False), "quota")
    assert not any(type(v).__name__ == "ContextVar" for v in vars(pacing).values())


def test_the_capability_choices_are_the_registry() -> None:
    result = run_cli(["check", "--help-all"])  # --help shows a brief of common options
    assert "Capability provider: " + ", ".join(providers.CAPABILITY_CHOICES) in \
        " ".join(result.output.replace("│", " ").split())
    bad = run_cli(["check", "-", "--capability", "carrier-pigeon"], input="tel\n")
    assert bad.exit_code == 2 and "--capability must be one of none, bothub" in bad.output


def test_one_check_of_the_capability_names(tmp_path: Path) -> None:
    """``check``, ``init`` and the Python API refuse an unknown ``--capability`` with
    the one message (``providers.check_capability``: the registry's names), as
    ``init --lang`` refuses a language with the declared option's (``check_choice``)."""
    expected = ("--capability must be one of " + ", ".join(providers.CAPABILITY_CHOICES)
                + ", got 'carrier-pigeon'")
    bad = run_cli(["check", "-", "--capability", "carrier-pigeon"], input="tel\n")
    init = run_cli(["init", "--config", str(tmp_path / "c.toml"), "--no-input",
                    "--capability", "carrier-pigeon"])
    assert bad.exit_code == init.exit_code == 2
    assert expected in bad.output and expected in init.output
    lang = run_cli(["init", "--config", str(tmp_path / "c.toml"), "--no-input",
                    "--lang", "de"])
    assert lang.exit_code == 2 and "--lang must be fr or en, got 'de'" in lang.output
    cli = Path(providers.__file__).parent / "cli"
    assert not [name for name in ("check.py", "init.py")
                if "must be one of" in (cli / name).read_text(encoding="utf-8")]


def test_plans_come_from_each_provider() -> None:
    s = Settings(rate=10.0, rate_margin=0.0, batch_size=1000)
    single = providers.lookup_plan(s, "bothub", 120)
    assert (single.numbers, single.requests, single.mode) == (120, 120, "single")
    assert single.seconds == pytest.approx(12.0)
    bulk = providers.lookup_plan(s, "bothub-bulk", 25_000)
    assert (bulk.requests, bulk.mode, bulk.details["jobs"]) == (3, "bulk", 3)
    batch = providers.lookup_plan(s, "rbm-batch", 2500)
    assert (batch.requests, batch.mode, batch.details["batches"]) == (3, "batch", 3)
    small = providers.lookup_plan(s, "rbm-batch", 120)  # under 500: one by one
    assert (small.requests, small.details["batches"]) == (120, 0)
    assert providers.lookup_plan(s, "mnp", 7).requests == 7
    assert math.isclose(providers.lookup_plan(s, "rbm", 5).rate, 10.0)


# -- reports: the runner writes every report through report.formats ---------------------
def test_every_report_the_runner_writes_goes_through_the_format_registry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each path option of ``FILE_REPORTS`` is a settings field and an option of
    ``check``; the runner writes what the entry renders, so replacing an entry's
    renderer (as adding a format adds one) changes the file with no runner change."""
    import dataclasses
    import io

    import typer.main
    from rich.console import Console

    from rcsqualify import ci
    from rcsqualify.cli import app
    from rcsqualify.report import formats
    from rcsqualify.result import execute_check
    from tests.helpers import write_csv

    check = typer.main.get_command(app).commands["check"]  # type: ignore[attr-defined]
    options = {o for p in check.params for o in p.opts}
    from rcsqualify.settings import OWNER

    fields = set(OWNER)
    for fmt in formats.FILE_REPORTS:
        assert fmt.field in fields and fmt.option in options
    stamped = tuple(dataclasses.replace(f, render=lambda s, c, n=f.name: f"<{n}:{s.decision}>")
                    for f in formats.FILE_REPORTS)
    monkeypatch.setattr(ci, "FILE_REPORTS", stamped)
    data = tmp_path / "in.csv"
    write_csv(data, [["tel"], ["06 07 00 00 01"]])
    paths = {f.field: tmp_path / "out" / f"r.{f.name}" for f in formats.FILE_REPORTS}
    run = execute_check(Settings(input=str(data), **{k: str(v) for k, v in paths.items()}),
                        Console(file=io.StringIO()))
    for fmt in formats.FILE_REPORTS:
        assert paths[fmt.field].read_text() == f"<{fmt.name}:{run.summary.decision}>"


# -- probe: the provider's own request, through the one send path -----------------------
@pytest.mark.parametrize("service", ["bothub", "mnp"])
def test_probe_sends_the_providers_own_request_through_the_http_layer(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    """What probe sends is what a run sends: the request the provider builds, through
    ``HttpLayer`` (its token, headers, pacing), once and without a retry."""
    from rcsqualify.probe import probe
    from rcsqualify.remote.http import HttpLayer

    number = "+33607000001"
    emulator.reset(quota=1000, numbers={number: {"capable": True}})
    sent: list[tuple[str, str]] = []
    real = HttpLayer._send

    async def recording(self: HttpLayer, method: str, url: str, *args: object,
                        **kwargs: object) -> object:
        sent.append((self.name, url))
        return await real(self, method, url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(HttpLayer, "_send", recording)
    s = (Settings(capability="bothub", bot_id="test-bot",
                  bothub_url=f"{emulator.base}/bothub/v1",
                  bothub_token_url=f"{emulator.base}/oauth/v3/token")
         if service == "bothub" else Settings(mnp_url=emulator.mnp_url()))
    result = probe(s, number)
    assert result.status == 200 and result.recognized, result
    assert len(sent) == 1 and sent[0][0].startswith(service)
    assert emulator.stats()["asked"] == {f"{service}:{number}": 1}


# -- adding a provider: its module and its registry entry -----------------------------
def pigeon_entry(**how: Any) -> providers.Provider:
    """A registry entry for a provider the code has never heard of (the fields a test
    does not care about: nothing to build, no URL, one request per number)."""
    base: dict[str, Any] = dict(
        name="pigeon", options=CapabilityOptions, family="pigeon", label="Pigeon",
        build=lambda options, needs: None,
        plan=providers.plan_single, per_number=True, urls=lambda s: [],
        endpoints=lambda s: [])
    return providers.Provider(**{**base, **how})


def test_a_new_capability_provider_is_its_class_and_one_registry_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider defined here and registered under a new name is built, costed, asked
    and dry-run by the runner with no other change (docs/ARCHITECTURE.md counts the
    files a real one touches: its module, its entry, its options)."""
    import io

    import httpx
    from rich.console import Console

    from rcsqualify.capability.interface import CapabilityProvider
    from rcsqualify.costs import lookup_cost
    from rcsqualify.dryrun import execute_dry_run
    from rcsqualify.remote.cache import Scope
    from rcsqualify.remote.http import HttpLayer
    from rcsqualify.remote.policy import HttpPolicy
    from rcsqualify.result import execute_check
    from tests.helpers import frte_numbers, write_csv

    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, json={"rcs": True})

    class Pigeon(CapabilityProvider):
        name = "pigeon"
        per_number = True

        def __init__(self, cache: LookupCache, quota: QuotaStore | None) -> None:
            super().__init__(cache, Scope("pigeon", "http://pigeon.test", "loft"))
            self.http = HttpLayer(self.name, HttpPolicy(rate=1000.0), stats=self.stats,
                                  transport=httpx.MockTransport(answer),
                                  schedule=quota.schedule("pigeon") if quota else None)

        async def answer_one(self, e164: str) -> str:
            assert self.http is not None
            got = await self.http.request("GET", f"http://pigeon.test/{e164}")
            self.http.accept(got, "yes")
            return "yes"

    entry = pigeon_entry(build=lambda options, needs: Pigeon(needs.cache, needs.quota))
    monkeypatch.setitem(providers.CAPABILITY, "pigeon", entry)
    data = tmp_path / "c.csv"
    write_csv(data, [["tel"], *[[n] for n in frte_numbers(12)]])
    s = Settings(input=str(data), capability="pigeon", cache_dir=tmp_path / "cache",
                 threshold=0.5)
    console = Console(file=io.StringIO())
    plan = execute_dry_run(s, console)
    assert plan["providers"]["pigeon"]["to_ask"] == 12 and asked == []
    run = execute_check(s, console)
    assert run.summary.decision == "pass" and len(asked) == 12
    assert lookup_cost(s, "pigeon", 12)["requests"] == 12
    assert execute_dry_run(s, console)["providers"]["pigeon"]["to_ask"] == 0  # cached


def test_learn_writes_to_the_scope_the_registry_entry_names(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``learn --capability X`` takes X's cache scope from its registry entry (no
    provider names matched in learn): a provider added by its entry is learnable, one
    with no scope is refused in one line."""
    from rcsqualify.errors import InputError
    from rcsqualify.learn.apply import capability_scope
    from rcsqualify.remote.cache import Scope

    loft = Scope("pigeon", "http://pigeon.test", "loft")
    entry = pigeon_entry(scope=lambda s: loft)
    monkeypatch.setitem(providers.CAPABILITY, "pigeon", entry)
    assert capability_scope(Settings(capability="pigeon")) == loft
    bulk = Settings(capability="bothub-bulk", bot_id="b1")
    assert capability_scope(bulk) == capability_scope(Settings(capability="bothub",
                                                               bot_id="b1"))
    monkeypatch.setitem(providers.CAPABILITY, "pigeon", pigeon_entry())
    with pytest.raises(InputError, match="--capability must name the service"):
        capability_scope(Settings(capability="pigeon"))


@pytest.mark.parametrize("literal", ['"X-Bot-Authorization"', '"chatBotCommunication"',
                                     "poll_initial: float = 2.0", "SINGLE_WARN = 1000",
                                     '1000, "bothub: warn'])
def test_bothub_defaults_are_written_once(literal: str) -> None:
    """Issue #24 named these defaults written two or three times (settings and the
    provider's constructor): now once, in capability/defaults.py, which the option
    declarations and the providers both read."""
    package = Path(providers.__file__).parent
    holders = [p.relative_to(package).as_posix() for p in sorted(package.rglob("*.py"))
               if "emulator" not in p.parts and literal in p.read_text(encoding="utf-8")]
    assert holders in ([], ["capability/defaults.py"]), holders
    from rcsqualify.capability import defaults
    from rcsqualify.settings import BothubOptions

    assert BothubOptions() == BothubOptions(
        bot_jwt_header=defaults.JWT_HEADER, require_feature=defaults.FEATURE,
        poll_interval=defaults.POLL_INITIAL, single_warn=defaults.SINGLE_WARN)


@pytest.mark.parametrize(("module", "literal"), [
    ("cli/admin.py", "StoreMaxAge = 30"),
    ("cli/init.py", "# threshold = 0.15 "),
    ("cli/init.py", "# rate = 30 "),
])
def test_other_commands_show_the_declared_defaults(module: str, literal: str) -> None:
    """``portability import``/``info`` and ``init``'s suggestions take check's defaults
    from the declarations (settings.py), never a copy that a changed default would
    leave behind."""
    source = (Path(providers.__file__).parent / module).read_text(encoding="utf-8")
    assert literal not in source


# -- nothing outside the registry chooses a provider by its name ----------------------
def provider_words() -> set[str]:
    """Every registry name and service family."""
    entries = [*providers.CAPABILITY.values(), *providers.OPERATOR.values()]
    return {e.name for e in entries} | {e.family for e in entries}


def name_tests(path: Path, words: set[str]) -> list[str]:
    """'line: code' of each comparison of a value with a provider name or family
    (``== "bothub"``, ``in ("rbm", …)``, ``.startswith("bothub")``) in ``path``."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))

    def named(node: ast.AST) -> bool:
        # the literal itself, or a tuple/list/set of them (a ROUTE["rbm"] subscript is
        # a send route's code, another vocabulary)
        items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
        return any(isinstance(n, ast.Constant) and n.value in words for n in items)

    found = []
    for node in ast.walk(tree):
        compared = isinstance(node, ast.Compare) and any(
            named(n) for n in (node.left, *node.comparators))
        prefixed = (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("startswith", "endswith")
                    and any(named(a) for a in node.args))
        if compared or prefixed:
            found.append(node)
    return [f"{path.name}:{n.lineno}: {ast.unparse(n)}" for n in found]


def test_no_module_outside_the_registry_tests_a_provider_name() -> None:
    """Adding a provider touches one place: no ``if capability == "bothub"`` or
    ``startswith("rbm")`` elsewhere; the branches read the entry's fields (family
    lookups are dictionary keys, not comparisons)."""
    package = Path(providers.__file__).parent
    words = provider_words()
    found = [hit for path in sorted(package.rglob("*.py"))
             if path.name != "providers.py" and "emulator" not in path.parts
             for hit in name_tests(path, words)]
    assert found == []


def test_the_name_scan_sees_each_way_of_testing_a_name(tmp_path: Path) -> None:
    code = tmp_path / "m.py"
    code.write_text("def f(s):\n    if s.capability == 'bothub':\n        return 1\n"
                    "    if s.capability.startswith(('bothub', 'rbm')):\n        return 2\n"
                    "    return 'mnp' in s.names or entry.family != 'rbm'\n",
                    encoding="utf-8")
    assert [h.split(":")[1] for h in name_tests(code, provider_words())] == [
        "2", "4", "6", "6"]


def test_doctor_and_the_next_steps_serve_a_provider_they_have_never_heard_of(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        emulator: Emulator) -> None:
    """A new entry (its own family, label, servers, operator and bulk counterpart)
    reaches ``doctor`` and an undecided verdict's next steps with no edit to either."""
    from rcsqualify.cli.doctor import Doctor, check_credentials, check_services
    from rcsqualify.costs import next_steps
    from tests.test_gate import _summary, counts

    monkeypatch.setitem(providers.CAPABILITY, "pigeon", pigeon_entry(
        operators=("FRMU",), bulk="pigeon-night",
        endpoints=lambda s: [("Pigeon loft", emulator.base + "/")]))
    monkeypatch.setitem(providers.CAPABILITY, "pigeon-night", pigeon_entry(
        name="pigeon-night", per_number=False))
    assert providers.per_number_for("FRMU") == "pigeon"
    assert providers.per_number_for("FRTE") == "bothub"
    assert providers.per_number_for("FRSF") == "rbm"

    summary = _summary(counts(invalid=98_000, unverified=512_000, reachable=390_000))
    steps = next_steps(Settings(operator="FRMU"), summary)
    assert [(st["kind"], st["option"]) for st in steps[1:]] == [
        ("check", "--capability pigeon"), ("bulk", "--capability pigeon-night")]

    doc = Doctor(Settings(capability="pigeon"))
    check_credentials(doc)
    check_services(doc)
    lines = {f.what: f for f in doc.findings}
    assert lines["Pigeon credentials"].level == "warn"
    assert "not checked" in lines["Pigeon credentials"].detail
    assert lines["service Pigeon loft"].level == "ok"
    assert "Pigeon" in capsys.readouterr().out


PACKAGE = Path(providers.__file__).parent


def test_no_context_variable_carries_anything() -> None:
    """No hidden channel (issue #24 item 2): what a call needs is in its signature and
    what it gives back is its return value. The last two context variables were the
    held negatives' bodies (now ``Negative.body``, returned) and the MNP request being
    signed (now ``fresh_headers``, passed with the request)."""
    found = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
             if "contextvars" in p.read_text(encoding="utf-8")
             or "ContextVar" in p.read_text(encoding="utf-8")]
    assert found == []


def test_a_negative_carries_its_body_in_the_return_value() -> None:
    """The held negatives at the start of a run are compared by the body each answer
    returns: twenty alike (digits masked) stop the run as a wrong path, nothing cached;
    two kinds of negative release them to the cache."""
    import asyncio

    from rcsqualify.capability.interface import (
        NEGATIVES_AT_START,
        CapabilityProvider,
        Negative,
    )
    from rcsqualify.errors import ConfigurationError
    from rcsqualify.remote.cache import Scope
    from rcsqualify.remote.http import Answer

    class Replies(CapabilityProvider):
        name = "replies"
        per_number = True

        def __init__(self, bodies: list[Any]) -> None:
            super().__init__(LookupCache(enabled=False), Scope("replies", "u", "x"))
            self.bodies = bodies

        async def answer_one(self, e164: str) -> str:
            return self.negative(Answer(404, self.bodies.pop(0)))

    alike = Replies([{"error": f"request {i} not found"} for i in range(40)])
    answer = alike.negative(Answer(404, {"error": "request 7"}), "nofeature")
    assert isinstance(answer, Negative) and answer == "nofeature"
    assert answer.body == '404 {"error": "request #"}'

    async def ask(provider: CapabilityProvider, n: int) -> list[str]:
        return [await provider._asked(f"+3361234{i:04d}") for i in range(n)]

    with pytest.raises(ConfigurationError, match=r"one identical body \(HTTP 404"):
        asyncio.run(ask(alike, NEGATIVES_AT_START))
    mixed = Replies([{"error": "not found"}, {"list": []}, *[{}] * 30])
    answers = asyncio.run(ask(mixed, NEGATIVES_AT_START + 5))
    assert answers == ["no"] * (NEGATIVES_AT_START + 5)
    assert all(type(a) is str for a in answers)  # the plain word is what is kept
    assert mixed._trusted and mixed._held == []


def test_fresh_headers_are_made_for_every_attempt() -> None:
    """A request's own headers (an MNP digest signature) are made anew right before
    each attempt, passed with the request: a retry never carries a stale one."""
    import asyncio

    import httpx

    from rcsqualify.remote.http import HttpLayer
    from rcsqualify.remote.policy import HttpPolicy

    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["X-Stamp"])
        return httpx.Response(503 if len(seen) == 1 else 200, json={})

    stamps = iter(range(100))
    layer = HttpLayer("t", HttpPolicy(rate=1000.0, retry_backoff=0.001),
                      transport=httpx.MockTransport(answer), schedule=MemorySchedule())

    async def run() -> None:
        async with layer.session():
            await layer.request("GET", "http://t.test/x",
                                fresh_headers=lambda: {"X-Stamp": str(next(stamps))})
            _, headers = await layer.send_once(
                "GET", "http://t.test/y", fresh_headers=lambda: {"X-Stamp": "once"})
            assert headers["X-Stamp"] == "once"

    asyncio.run(run())
    assert seen == ["0", "1", "once"]


def test_only_a_digest_profile_signs(credentials: Settings) -> None:
    from rcsqualify.numbering.plan import load_plan

    source = providers.make_mnp_source(credentials, load_plan(), LookupCache(enabled=False))
    assert source.signer("+33612345678") is None  # type: ignore[attr-defined]
    source.close()


@pytest.mark.parametrize("name", [*sorted(providers.CAPABILITY), *providers.OPERATOR])
def test_each_factory_takes_its_option_group_and_the_named_needs(
        name: str, credentials: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A factory is given its provider's own option group, never the whole settings,
    and the run's shared objects by name (issue #24 item 2): what it reads of the
    options is what its group declares, and the policy, cache, quota and notifier it
    is given are the ones the provider uses."""
    import inspect

    from rcsqualify.numbering.plan import load_plan

    entry = providers.CAPABILITY.get(name) or providers.OPERATOR[name]
    assert issubclass(entry.options, OptionGroup)
    first = next(iter(inspect.signature(entry.build).parameters.values()))
    assert first.annotation == entry.options.__name__  # (postponed annotations)
    cache, quota = LookupCache(enabled=False), RecordingQuota()
    told: list[str] = []

    def notify(message: str) -> None:
        told.append(message)

    s = Settings(**{**credentials.__dict__, "capability": name, "rate": 7.0})
    given = providers.needs(s, cache, quota, notify, plan=load_plan())
    built = entry.build(s.group(entry.options), given)
    assert built.http.policy.rate == 7.0 and built.http.pacer.schedule is quota.given[0]
    assert built.http.notify is notify and built.cache is cache
    built.close()


def test_a_providers_secrets_are_described_by_its_entry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated reference lists the variables a provider's secrets are read from
    from its registry entry (``secrets``): a new provider adds no line to
    cli/reference.py."""
    from rcsqualify.cli.reference import ENVIRONMENT_ONLY, environment_only, reference_markdown

    entry = pigeon_entry(secrets={"RCSQUALIFY_PIGEON_KEY": "The pigeon service's key."})
    monkeypatch.setitem(providers.CAPABILITY, "pigeon", entry)
    assert "| `RCSQUALIFY_PIGEON_KEY` | The pigeon service's key. |" in reference_markdown()
    every = {v for p in [*providers.CAPABILITY.values(), *providers.OPERATOR.values()]
             for v in p.secrets}
    assert every <= set(environment_only()) and not every & set(ENVIRONMENT_ONLY)


def test_probe_takes_the_options_of_the_entries_it_probes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``probe``'s options come from the registry: each probed entry's option group
    (its ``one_request`` options), so a new probed provider adds no line to the
    command; every name is a declared option of its group."""
    from rcsqualify.settings import declared

    names = providers.probe_options()
    assert names[:4] == ("mnp_profile", "mnp_url", "mnp_field", "mnp_region")
    assert {"bot_id", "bot_jwt_header", "agent_id", "rbm_credentials"} <= set(names)
    assert "bulk_hours" not in names and "batch_size" not in names
    for entry in [*providers.CAPABILITY.values(), *providers.OPERATOR.values()]:
        own = {f.name for f, _ in declared(entry.options)}
        assert set(entry.options.one_request or own) <= own, entry.name
    monkeypatch.setitem(providers.CAPABILITY, "pigeon",
                        pigeon_entry(options=CapabilityOptions, probed=True))
    assert providers.probe_options()[-2:] == ("capability", "other_route")
