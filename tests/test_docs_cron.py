"""The cron/systemd recipe (docs/cookbook/cron.md) shares one environment file between
the crontab line (which sources it with sh) and the systemd unit (EnvironmentFile=).
systemd reads only NAME=value lines and ignores `export NAME=value`; sh keeps NAME=value
unexported unless `set -a`. The recipe must give the credentials to rcsqualify both ways."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "cookbook" / "cron.md"


def _blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def _env_file(text: str) -> str:
    return next(b for b in _blocks(text) if "RCSQUALIFY_BOTHUB_CLIENT_SECRET=" in b
                and "rcsqualify refresh" not in b)


def test_the_env_file_is_in_the_systemd_format() -> None:
    lines = [line for line in _env_file(DOC.read_text(encoding="utf-8")).splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines and all(re.match(r"[A-Z_]+=", line) for line in lines), lines


def test_the_crontab_line_exports_the_env_file_to_rcsqualify(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    env = tmp_path / "env"
    env.write_text(_env_file(text).replace("…", "from-the-file"), encoding="utf-8")
    cron = next(line for b in _blocks(text) for line in b.splitlines()
                if "rcsqualify refresh" in line and not line.startswith("#"))
    command = cron.split(None, 5)[5]  # after the five time fields
    program = re.search(r"/\S+/bin/rcsqualify\b", command)
    assert program, command
    probe = (f"{sys.executable} -c \"import os; "
             "print(os.environ.get('RCSQUALIFY_BOTHUB_CLIENT_SECRET'))\"")
    line = command[:program.start()].replace("/etc/rcsqualify/env", str(env)) + probe
    out = subprocess.run(["env", "-i", "LANG=C", "PATH=/usr/bin:/bin", "sh", "-c", line],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "from-the-file"
