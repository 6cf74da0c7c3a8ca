"""The keyword arguments of ``rcsqualify.qualify``, typed for mypy and pyright.

GENERATED from the option declarations (``settings.py``) by
``python -m rcsqualify.api_types``: do not edit (``tests/test_api.py`` fails while this
file differs from what the command writes). ``api.py`` re-exports ``QualifyOptions``
and ``COMMAND_LINE_ONLY``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal, TypedDict

PathLike = str | os.PathLike[str]


class QualifyOptions(TypedDict, total=False):
    """The keyword arguments of ``qualify``: every option of ``rcsqualify check`` by its
    field name (``--json-report`` is ``json_report``, ``--format`` is
    ``input_format``), typed for Python callers; not those of ``COMMAND_LINE_ONLY``."""

    column: str | Sequence[str]
    columns: Literal["auto"] | None
    contact_id: str | None
    number_rank: str | None
    max_numbers_per_contact: int
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    input_format: str | None
    header: bool | None
    skip_rows: int | None
    header_row: int | None
    csv_escape: bool
    csv_dialect: Literal["excel-fr", "standard"] | None
    excel: bool
    operator: str
    threshold: float
    gate: Literal["decide", "known", "upper"]
    output: PathLike | None
    json_report: PathLike | None
    split_dir: PathLike | None
    split_xlsx: bool
    wait_lock: float
    html_report: PathLike | None
    markdown_report: PathLike | None
    ci_summary: bool
    junit_xml: PathLike | None
    history: PathLike | None
    send_rate: float
    price_message: float | None
    price_conversation: float | None
    reply_rate: float | None
    metrics_file: PathLike | None
    notify: str | Sequence[str]
    warn_at: float
    notify_format: Literal["auto", "slack", "teams", "json"]
    portability: PathLike | Sequence[PathLike]
    portability_db: PathLike | None
    portability_number_column: str | None
    portability_operator_column: str | None
    portability_max_unmapped: float
    portability_max_age: int
    mnp_url: str | None
    mnp_field: str | None
    mnp_profile: PathLike | None
    mnp_region: str | None
    capability: str
    other_route: str | None
    bothub_url: str
    bothub_token_url: str
    bot_id: str | None
    bot_key_file: PathLike | None
    bot_jwt_header: str
    single_warn: int
    wait_for_window: bool
    poll_interval: float
    bulk_deadline: float | None
    bulk_hours: str | None
    require_feature: str
    rbm_url: str
    agent_id: str | None
    rbm_credentials: PathLike | None
    agent_launched: bool
    batch_size: int | None
    sample: int | Literal["auto"] | None
    sample_max: int
    confidence: float
    seed: int
    rate: float
    rate_margin: float
    throttle_pause: float
    timeout: float
    max_pause: float
    max_paused: float
    max_requests: int | None
    retry_backoff: float
    cache_dir: PathLike | None
    cache_url: str | None
    cache_key_file: PathLike | None
    cache_key_in_store: bool
    quota_store: str | None
    no_cache: bool
    refresh: bool
    lang: Literal["fr", "en"] | None
    config: PathLike | None
    profile: str | None


#: options of ``check`` that mean nothing to a Python caller (``settings.COMMAND_LINE_ONLY``)
COMMAND_LINE_ONLY = frozenset({"debug", "dry_run", "quiet"})
