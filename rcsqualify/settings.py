"""Every option of ``check`` in one typed object (CONTRACT §9).

The CLI fills it from options and environment variables (Typer's ``envvar``; an option
on the command line wins); the runner and the providers read it. Secrets are not
fields here: they are read from the environment or from files at the moment a
provider needs them, so a ``repr`` of the settings can never leak one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rcsqualify.remote.policy import DEFAULT_POLICY

if TYPE_CHECKING:
    from rcsqualify.remote.policy import HttpPolicy

DEFAULT_BOTHUB_URL = "https://api.orange.com/bothub/v1"
DEFAULT_BOTHUB_TOKEN_URL = "https://api.orange.com/oauth/v3/token"
DEFAULT_RBM_URL = "https://europe-rcsbusinessmessaging.googleapis.com"
#: ``--sample-max``: numbers ``--sample auto`` draws at most (issue #22: a few minutes of
#: a 30/s quota; the planner says how often that decides)
SAMPLE_MAX = 2000


@dataclass
class Settings:
    input: str = "-"
    column: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    input_format: str | None = None
    header: bool | None = None  # --header / --no-header; None: detected (CONTRACT §11)
    skip_rows: int | None = None  # rows above the header; None: a title row detected
    header_row: int | None = None  # the header's row number (1-based): skip_rows + 1
    csv_escape: bool = True  # spreadsheet-safe CSV outputs (CONTRACT §11)
    csv_dialect: str | None = None  # excel-fr / standard; None: from the input (#26)
    excel: bool = False  # --excel: --csv-dialect excel-fr
    operator: str = "FRTE"
    threshold: float = 0.15
    output: str | None = None
    json_report: str | None = None
    quiet: bool = False
    split_dir: str | None = None
    split_xlsx: bool = False
    wait_lock: float = 0.0  # seconds to wait for the list directory's lock (then exit 4)
    html_report: str | None = None
    markdown_report: str | None = None
    junit_xml: str | None = None
    # CI: GITHUB_STEP_SUMMARY gets the Markdown report when no path is given (unless
    # ci_summary is off); GITHUB_ACTIONS=true turns on workflow-command annotations
    ci_summary: bool = True
    step_summary: str | None = None
    github_actions: bool = False
    gate: str = "decide"  # decide | known | upper (CONTRACT §2 Gate)
    history: Path | None = None
    send_rate: float = 30.0
    price_message: float | None = None
    price_conversation: float | None = None
    reply_rate: float | None = None
    debug: bool = False
    # operator sources
    portability: list[Path] = field(default_factory=list)
    portability_db: Path | None = None
    portability_number_column: str | None = None
    portability_operator_column: str | None = None
    portability_max_unmapped: float = 0.01  # share of unusable operator values → exit 2
    portability_max_age: int = 30  # days since the newest port date → a warning
    mnp_url: str | None = None
    mnp_field: str | None = None
    mnp_profile: str | None = None  # generic (default), twilio, hlr-lookups, or a .toml path
    mnp_region: str | None = None  # one of the profile's [regions] (twilio: us1, ie1)
    # capability
    capability: str = "none"
    bothub_url: str = DEFAULT_BOTHUB_URL
    bothub_token_url: str = DEFAULT_BOTHUB_TOKEN_URL
    bot_id: str | None = None
    bot_key_file: Path | None = None
    bot_jwt_header: str = "X-Bot-Authorization"
    rbm_url: str = DEFAULT_RBM_URL
    agent_id: str | None = None
    rbm_credentials: Path | None = None
    agent_launched: bool = False
    batch_size: int | None = None  # rbm-batch numbers per call (1-10,000); None: balanced
    single_warn: int = 1000  # bothub: warn when more numbers than this are to be asked
    sample: int | None = None
    #: --sample auto (issue #22 §2): sequential, anytime-valid, until decided
    sample_auto: bool = False
    sample_max: int = SAMPLE_MAX
    confidence: float = 0.95  # both the auto bound's and the fixed sample's Wilson level
    seed: int = 0
    wait_for_window: bool = False
    poll_interval: float = 2.0  # first wait between bulk job polls (grows ×1.5 to 30 s)
    bulk_deadline: float | None = None  # seconds; default: the end of the bulk window
    bulk_hours: str | None = None  # HH:MM-HH:MM Paris time, or "server"
    require_feature: str = "chatBotCommunication"  # "" = any non-empty capability list
    other_route: str | None = None  # rbm | rbm-batch: other operators' mobiles on RBM
    # pacing and HTTP
    rate: float = DEFAULT_POLICY.rate
    rate_margin: float = DEFAULT_POLICY.margin  # pace this share under --rate (jitter)
    throttle_pause: float = DEFAULT_POLICY.throttle_pause
    timeout: float = DEFAULT_POLICY.timeout
    deadline: float = DEFAULT_POLICY.deadline  # per number: stop retrying after this
    concurrency: int = DEFAULT_POLICY.concurrency
    retry_backoff: float = DEFAULT_POLICY.backoff_initial  # first backoff, doubling
    max_pause: float = DEFAULT_POLICY.max_pause  # cap on a server's Retry-After
    max_paused: float = DEFAULT_POLICY.max_paused  # a service throttled longer: given up
    max_body: int = DEFAULT_POLICY.max_body  # bytes of one answer
    max_requests: int | None = None  # budget per service and run
    # cache
    cache_dir: Path | None = None
    cache_url: str | None = None  # a directory or redis://… (issue #15)
    quota_store: str | None = None  # redis://…; default: cache_url if Redis
    no_cache: bool = False
    cache_key_file: Path | None = None  # the cache key, kept outside the cache (#23)
    cache_key_in_store: bool = False  # accept a key stored inside a shared cache
    refresh: bool = False
    ttl_positive_days: float = 90.0
    ttl_negative_days: float = 60.0
    ttl_operator_days: float = 7.0
    # profiles (issue #16): environment variable → "env:VAR" or "file:PATH", references
    # only (the wiring resolves them at the last moment); the profile's name
    credential_refs: dict[str, str] = field(default_factory=dict)
    profile: str | None = None
    #: the config file the profile was read from (never written over: CONTRACT §11)
    config: Path | None = None
    dry_run: bool = False  # command line only (config.COMMAND_LINE_ONLY)
    lang: str | None = None  # HTML and Markdown reports: fr | en; None: from the locale

    def http_policy(self) -> HttpPolicy:
        """The one HTTP policy of the run (every provider gets the same knobs)."""
        from rcsqualify.remote.policy import HttpPolicy

        return HttpPolicy(rate=self.rate, margin=self.rate_margin, timeout=self.timeout,
                          deadline=self.deadline, backoff_initial=self.retry_backoff,
                          throttle_pause=self.throttle_pause, max_pause=self.max_pause,
                          max_paused=self.max_paused,
                          max_body=self.max_body, max_requests=self.max_requests,
                          concurrency=self.concurrency)

    @property
    def remote(self) -> bool:
        return self.capability != "none" or bool(self.mnp_url) or bool(self.other_route)
