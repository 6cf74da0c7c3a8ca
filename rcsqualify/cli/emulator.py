"""``rcsqualify emulator``: the local look-alike of the services, for tests and demos."""

# annotations evaluated at import: see cli/base.py

import sys
from pathlib import Path
from typing import Annotated

import typer

from rcsqualify.cli.base import (
    app,
    fail,
    reports_errors,
)
from rcsqualify.errors import ExitCode


@app.command()
@reports_errors
def emulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port).",
                                      min=0, max=65535)] = 8787,
    seed: Annotated[int, typer.Option(help="Seed of the deterministic answers.")] = 0,
    capable_share: Annotated[float, typer.Option(help="Share of capable numbers.")] = 0.7,
    quota: Annotated[float, typer.Option(help="Requests/s allowed per API family.")] = 30.0,
    numbers: Annotated[Path | None, typer.Option(
        help="File of number;capable;operator overriding the seeded answers.")] = None,
    fault: Annotated[list[str] | None, typer.Option(
        help="Inject faults: KIND=PROBABILITY (http_500, http_503, timeout, reset, "
        "malformed, token_expiry); repeatable.")] = None,
    fault_attempts: Annotated[int, typer.Option(
        help="Faults hit the first N requests per number (0: a share of numbers always "
        "fail).")] = 1,
    latency: Annotated[float, typer.Option(help="Seconds added to every answer.")] = 0.0,
    retry_after: Annotated[float | None, typer.Option(help="Retry-After on 429s.")] = None,
    bulk_window: Annotated[str, typer.Option(
        help="BotHub bulk window: always, never, clock (22:00-07:00 Paris).")] = "always",
    token_ttl: Annotated[int, typer.Option(help="Token lifetime, seconds.")] = 3600,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Serve local emulators of BotHub, RBM and an MNP look-up (127.0.0.1 only)."""
    from rcsqualify.emulator.app import FAULT_KINDS, EmulatorConfig, load_numbers, serve

    faults: dict[str, float] = {}
    for item in fault or []:
        kind, _, prob = item.partition("=")
        if kind not in FAULT_KINDS:
            raise fail(f"--fault {item}: kind must be one of {', '.join(FAULT_KINDS)}", 2)
        try:
            faults[kind] = float(prob or 1.0)
        except ValueError:
            raise fail(f"--fault {item}: probability must be a number", 2) from None
    if bulk_window not in ("always", "never", "clock"):
        raise fail("--bulk-window must be always, never or clock", 2)
    config = EmulatorConfig(seed=seed, capable_share=capable_share, faults=faults,
                            fault_attempts=fault_attempts, latency=latency,
                            retry_after=retry_after, bulk_window=bulk_window,
                            token_ttl=token_ttl,
                            numbers=load_numbers(numbers) if numbers else {})
    config.update({"quota": quota})

    def announce(line: str) -> None:
        base = line.rsplit(" ", 1)[-1]
        typer.echo(line)
        typer.echo(f"  RCSQUALIFY_BOTHUB_URL={base}/bothub/v1")
        typer.echo(f"  RCSQUALIFY_BOTHUB_TOKEN_URL={base}/oauth/v3/token")
        typer.echo(f"  RCSQUALIFY_BOTHUB_CLIENT_ID={config.client_id}  "
                   f"RCSQUALIFY_BOTHUB_CLIENT_SECRET=<emulator default>")
        typer.echo(f"  RCSQUALIFY_RBM_URL={base}/rbm  RCSQUALIFY_RBM_AGENT_ID={config.rbm_agent}")
        typer.echo(f"  RCSQUALIFY_MNP_URL='{base}/mnp/lookup?msisdn={{msisdn}}'")
        sys.stdout.flush()

    import errno

    try:
        serve(config, port=port, announce=announce)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise fail(f"port {port} on 127.0.0.1 is in use (another emulator?): choose "
                    "another with --port, or --port 0 for any free port",
                    int(ExitCode.USAGE)) from None
