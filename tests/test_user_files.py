"""The user's files (CONTRACT §11, issue #10): nothing overwritten, nothing dropped,
nothing leaked; every test on real files, the clean-up ones with real signals."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rcsqualify
from tests.helpers import check_json, run_cli, write_csv

EXE = str(Path(sys.executable).with_name("rcsqualify"))
PHONE = "0607123456"


def _one_error_line(result: Any, *needles: str) -> str:
    stderr = result.stderr
    assert result.exit_code == 2, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rcsqualify: error: "), stderr
    for needle in needles:
        assert needle in stderr, stderr
    return str(lines[0])


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _base(tmp_path: Path, name: str = "base.csv") -> Path:
    return write_csv(tmp_path / name, [["nom", "mobile"], ["Lefèvre", PHONE],
                                       ["Garçon", "0601012345"], ["Zoé", "N/A"]],
                     encoding="cp1252")


# -- 1. refuse before writing ------------------------------------------------------------
@pytest.mark.parametrize("option", ["-o", "--json-report", "--html-report"])
def test_an_output_that_is_the_input_is_refused(tmp_path: Path, option: str) -> None:
    base = _base(tmp_path)
    before = _snapshot(tmp_path)
    _one_error_line(run_cli(["check", str(base), option, str(base)]), "would overwrite",
                    "the input")
    assert _snapshot(tmp_path) == before  # cp1252 input intact, nothing written


@pytest.mark.parametrize("link", ["hard", "symbolic", "dotted"])
def test_links_to_the_input_are_refused(tmp_path: Path, link: str) -> None:
    base = _base(tmp_path)
    alias = tmp_path / "alias.csv"
    if link == "hard":
        os.link(base, alias)
    elif link == "symbolic":
        alias.symlink_to(base)
    else:
        (tmp_path / "sub").mkdir()
        alias = tmp_path / "sub" / ".." / "base.csv"
    before = base.read_bytes()
    _one_error_line(run_cli(["check", str(base), "-o", str(alias)]), "would overwrite")
    assert base.read_bytes() == before


def test_checking_a_list_again_never_overwrites_the_lists(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    assert run_cli(["check", str(_base(tmp_path)), "--split-dir", str(lists), "-q"]
                   ).exit_code in (0, 1)
    before = _snapshot(lists)
    result = run_cli(["check", str(lists / "unverified.csv"), "--split-dir", str(lists)])
    _one_error_line(result, "unverified.csv", "would overwrite")
    assert _snapshot(lists) == before
    # elsewhere it is fine
    again = tmp_path / "again"
    assert run_cli(["check", str(lists / "unverified.csv"), "--split-dir", str(again), "-q",
                    "--threshold", "1"]).exit_code == 0
    assert (again / "unverified.csv").exists()


def test_two_outputs_of_one_run_collide(tmp_path: Path) -> None:
    base = _base(tmp_path)
    out = tmp_path / "r.html"
    _one_error_line(run_cli(["check", str(base), "--json-report", str(out),
                             "--html-report", str(out)]), "same file")
    assert not out.exists()
    lists = tmp_path / "lists"
    _one_error_line(run_cli(["check", str(base), "-o", str(lists / "remove.csv"),
                             "--split-dir", str(lists)]), "same file")
    assert not lists.exists()


def test_refresh_log_is_updated_but_never_the_base(tmp_path: Path) -> None:
    base = _base(tmp_path)
    log = tmp_path / "refresh.log"
    for _ in range(2):  # the log is read as history and appended to: allowed
        assert run_cli(["refresh", str(base), "--log-file", str(log), "--threshold", "1"]
                       ).exit_code == 0
    assert len(log.read_text().splitlines()) == 2
    before = base.read_bytes()
    _one_error_line(run_cli(["refresh", str(base), "--log-file", str(base)]),
                    "would overwrite")
    assert base.read_bytes() == before


@pytest.mark.parametrize("read", ["config", "mnp-profile", "credential", "cache", "history"])
def test_an_output_over_a_file_the_run_reads_is_refused(tmp_path: Path, read: str) -> None:
    """Issue #23 item 16: every file the run reads is protected like the input: the
    config file, an MNP profile file, a credential file, the cache's own files (its
    secret: overwritten, the next run refused the damaged cache), the history."""
    base = _base(tmp_path)
    secret = tmp_path / "client-secret.txt"
    secret.write_text("s3cret\n", encoding="utf-8")
    config = tmp_path / "rcsqualify.toml"
    config.write_text('[profiles.p]\nthreshold = 1\n'
                      f'bothub-client-secret-file = "{secret.name}"\n', encoding="utf-8")
    profile = tmp_path / "mine.toml"
    profile.write_text((Path(rcsqualify.__file__).parent / "data" / "mnp_profiles"
                        / "generic.toml").read_text(encoding="utf-8"), encoding="utf-8")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "secret.key").write_bytes(b"k" * 32)
    history = tmp_path / "history.jsonl"
    history.write_text("", encoding="utf-8")
    args, target = {
        "config": (["--config", str(config), "--profile", "p"], config),
        "mnp-profile": (["--mnp-profile", str(profile), "--mnp-url",
                         "http://127.0.0.1:9/{number}"], profile),
        "credential": (["--config", str(config), "--profile", "p"], secret),
        "cache": (["--capability", "bothub", "--bot-id", "b", "--cache-dir", str(cache)],
                  cache / "secret.key"),
        "history": (["--history", str(history)], history),
    }[read]
    before = _snapshot(tmp_path), _snapshot(cache)
    for option in ("--json-report", "--html-report", "-o"):
        out = str(target) if option != "-o" else str(target) + ".csv"
        if option == "-o" and read != "cache":
            continue  # only a directory protects names that do not exist yet
        _one_error_line(run_cli(["check", str(base), *args, option, out]),
                        "nothing was written")
    assert (_snapshot(tmp_path), _snapshot(cache)) == before


def test_portability_import_into_an_extract_is_refused(tmp_path: Path) -> None:
    extract = write_csv(tmp_path / "porta.csv", [["numero", "operateur"], [PHONE, "SFR0"]])
    before = extract.read_bytes()
    _one_error_line(run_cli(["portability", "import", str(extract), "--into", str(extract)]),
                    "would overwrite")
    assert extract.read_bytes() == before


# -- 2. delete only what you created -----------------------------------------------------
def test_plan_reset_deletes_only_the_installed_plan(isolated_env: Path) -> None:
    plan_dir = Path(os.environ["RCSQUALIFY_PLAN_DIR"])
    plan_dir.mkdir(parents=True)
    (plan_dir / "notes.txt").write_text("mine")
    (plan_dir / "sub").mkdir()
    (plan_dir / "sub" / "data.csv").write_text("mine too")
    majnum = Path(__file__).resolve().parent.parent / "rcsqualify/data/arcep/MAJNUM.csv"
    assert run_cli(["plan", "update", str(majnum)]).exit_code == 0
    assert (plan_dir / "MAJNUM.csv").read_bytes() == majnum.read_bytes()
    assert run_cli(["plan", "reset"]).exit_code == 0
    assert not (plan_dir / "MAJNUM.csv").exists()
    assert (plan_dir / "notes.txt").read_text() == "mine"
    assert (plan_dir / "sub" / "data.csv").read_text() == "mine too"
    assert "no installed plan" in run_cli(["plan", "reset"]).stdout


def test_split_lists_remove_their_own_stale_xlsx_only(tmp_path: Path) -> None:
    base = _base(tmp_path)
    lists = tmp_path / "lists"
    run_cli(["check", str(base), "--split-dir", str(lists), "--split-xlsx", "-q"])
    assert {p.name for p in lists.glob("*.xlsx")} == {
        "send_rcs.xlsx", "other_operators.xlsx", "not_rcs.xlsx", "unverified.xlsx",
        "remove.xlsx"}
    (lists / "mine.xlsx").write_bytes(b"user file")
    edited = lists / "remove.xlsx"
    edited.write_bytes(edited.read_bytes() + b"\0")  # the user edited this one
    run_cli(["check", str(base), "--split-dir", str(lists), "-q"])
    assert {p.name for p in lists.glob("*.xlsx")} == {"mine.xlsx", "remove.xlsx"}
    assert (lists / "mine.xlsx").read_bytes() == b"user file"
    assert len(list(lists.glob("*.csv"))) == 5
    assert not list(lists.glob(".*.part"))


def _lists_then_a_second_base(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """Lists written by a first run, and a base whose lists would all differ."""
    tmp_path.mkdir(exist_ok=True)
    lists = tmp_path / "lists"
    assert run_cli(["check", str(_base(tmp_path)), "--split-dir", str(lists), "-q",
                    "--threshold", "1"]).exit_code == 0
    second = write_csv(tmp_path / "second.csv", [["nom", "mobile"], ["Ada", "0607123457"],
                                                 ["Bob", "0701012345"], ["Cy", "x"]])
    return lists, second, _snapshot(lists)


def _no_staging_left(lists: Path) -> None:
    assert not [p.name for p in lists.iterdir() if p.name.endswith((".part", ".previous"))]


def test_split_lists_are_published_all_or_none(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #23 item 18: a directory in place of one list said "nothing was replaced"
    while three lists were, and the manifest was not updated (every later run then
    refused the tool's own lists). Now a list that is not a file is refused before the
    run, and a rename failing mid-publish puts every list and the manifest back."""
    lists, second, before = _lists_then_a_second_base(tmp_path)
    (lists / "not_rcs.csv").unlink()
    (lists / "not_rcs.csv").mkdir()
    before = _snapshot(lists)
    _one_error_line(run_cli(["check", str(second), "--split-dir", str(lists)]),
                    "not_rcs.csv is not a regular file", "nothing was written")
    assert _snapshot(lists) == before
    (lists / "not_rcs.csv").rmdir()
    lists, second, before = _lists_then_a_second_base(tmp_path / "again")
    from rcsqualify import files

    real_replace = os.replace
    calls: list[str] = []

    def third_rename_fails(src: Any, dst: Any) -> None:
        calls.append(str(dst))
        if len(calls) == 3:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", third_rename_fails)
    _one_error_line(run_cli(["check", str(second), "--split-dir", str(lists)]),
                    "Input/output error", "nothing was replaced")
    monkeypatch.undo()
    assert len(calls) > 3  # two lists were replaced, then put back
    assert _snapshot(lists) == before
    _no_staging_left(lists)
    result = run_cli(["check", str(second), "--split-dir", str(lists), "-q",
                      "--threshold", "1"])
    assert result.exit_code == 0, result.stderr  # the manifest still knows its lists
    assert _snapshot(lists) != before
    _no_staging_left(lists)


def test_split_lists_publish_where_hard_links_are_not_allowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The previous lists are kept by hard link while the new ones are renamed in; a
    file system without hard links (FAT, some shares) gets a copy instead."""
    lists, second, before = _lists_then_a_second_base(tmp_path)
    from rcsqualify import files

    def no_links(*_: Any, **__: Any) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", no_links)
    result = run_cli(["check", str(second), "--split-dir", str(lists), "-q",
                      "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert _snapshot(lists) != before
    _no_staging_left(lists)


def test_check_split_dir_takes_the_list_directory_lock(tmp_path: Path) -> None:
    """Two ``check --split-dir L`` at once replaced each other's lists: check holds the
    directory's lock as refresh does (exit 4 when held, nothing written)."""
    from filelock import FileLock

    lists, second, before = _lists_then_a_second_base(tmp_path)
    with FileLock(str(lists / ".rcsqualify-refresh.lock")):
        result = run_cli(["check", str(second), "--split-dir", str(lists), "-q",
                          "--wait-lock", "0"])
        held_long = run_cli(["check", str(second), "--split-dir", str(lists), "-q",
                             "--wait-lock", "0.2"])
    for res in (result, held_long):
        assert res.exit_code == 4, res.stderr
        assert "another run is writing the lists" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    assert _snapshot(lists) == before
    link = tmp_path / "elsewhere"
    (lists / ".rcsqualify-refresh.lock").unlink()
    (lists / ".rcsqualify-refresh.lock").symlink_to(link)
    _one_error_line(run_cli(["check", str(second), "--split-dir", str(lists)]),
                    "symbolic link")
    assert not link.exists()
    assert {k: v for k, v in _snapshot(lists).items() if "lock" not in k} == {
        k: v for k, v in before.items() if "lock" not in k}


def test_a_list_the_user_put_or_edited_is_never_overwritten(tmp_path: Path) -> None:
    """A file with a list's name that no run wrote, or that was saved again since (a
    spreadsheet), stops the run before anything is written: exit 2 naming it."""
    base = _base(tmp_path)
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "remove.csv").write_text("my own opt-out list\n")
    first = run_cli(["check", str(base), "--split-dir", str(lists), "-q"])
    assert first.exit_code == 2 and "remove.csv is not written by rcsqualify" in first.stderr
    assert (lists / "remove.csv").read_text() == "my own opt-out list\n"
    assert sorted(p.name for p in lists.iterdir()) == ["remove.csv"]  # nothing written
    (lists / "remove.csv").unlink()
    assert run_cli(["check", str(base), "--split-dir", str(lists), "-q"]).exit_code in (0, 1)
    again = run_cli(["check", str(base), "--split-dir", str(lists), "-q"])  # its own lists
    assert again.exit_code in (0, 1), again.stderr
    edited = lists / "send_rcs.csv"
    edited.write_text(edited.read_text() + "an edit\n")
    third = run_cli(["check", str(base), "--split-dir", str(lists), "-q"])
    assert third.exit_code == 2 and "send_rcs.csv is changed since" in third.stderr
    assert edited.read_text().endswith("an edit\n")


def test_a_list_edited_while_the_run_goes_on_is_never_overwritten(tmp_path: Path) -> None:
    """The check of the lists happens again right before they replace the old ones: a
    list saved by the user while the run was checking stays as they saved it."""
    from rcsqualify.report import split

    base = _base(tmp_path)
    lists = tmp_path / "lists"
    assert run_cli(["check", str(base), "--split-dir", str(lists), "-q"]).exit_code in (0, 1)
    original = split.annotated_batches

    def edit_while_running(*args: object, **kwargs: object) -> object:
        with (lists / "send_rcs.csv").open("a") as fh:  # the user saves it meanwhile
            fh.write("my edit\n")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    split.annotated_batches = edit_while_running  # type: ignore[assignment]
    try:
        result = run_cli(["check", str(base), "--split-dir", str(lists), "-q"])
    finally:
        split.annotated_batches = original
    assert result.exit_code == 2 and "send_rcs.csv is changed since" in result.stderr
    assert "no list or report was written" in result.stderr
    assert (lists / "send_rcs.csv").read_text().endswith("my edit\n")
    assert not list(lists.glob(".*.part"))


@pytest.mark.parametrize("manifest", ["fifo", "nested", "huge"])
def test_a_strange_manifest_is_no_manifest(tmp_path: Path, manifest: str) -> None:
    """The manifest is the directory's, not ours: a FIFO (which would block a read), a
    deeply nested document or a huge file count as no record (every list refused)."""
    import os

    base = _base(tmp_path)
    lists = tmp_path / "lists"
    lists.mkdir()
    path = lists / ".rcsqualify-lists.json"
    if manifest == "fifo":
        os.mkfifo(path)
    elif manifest == "nested":
        path.write_text("[" * 100_000)
    else:
        path.write_text('{"files": {}, "pad": "' + "x" * (2 << 20) + '"}')
    (lists / "remove.csv").write_text("mine\n")
    result = run_cli(["check", str(base), "--split-dir", str(lists), "-q"])
    assert result.exit_code == 2 and "remove.csv is not written by" in result.stderr
    assert (lists / "remove.csv").read_text() == "mine\n"
    (lists / "remove.csv").unlink()
    assert run_cli(["check", str(base), "--split-dir", str(lists), "-q"]).exit_code in (0, 1)
    assert path.is_file() and "remove.csv" in path.read_text()  # a record in its place


# -- 3. every column, every value --------------------------------------------------------
DUP_HEADER = ["nom_1", "nom", "nom", "", "tel", "status", "status_input"]
DUP_ROW = ["a", "b", "c", "d", PHONE, "VIP", "x"]
DUP_NAMES = ["nom_1", "nom", "nom_2", "column_4", "tel", "status_input_2", "status_input"]


def _read_output(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False,
                           encoding="utf-8-sig")  # a ';' input's output has a BOM (#26)
    if path.suffix == ".ndjson":
        return pd.read_json(path, lines=True, dtype=False)
    return pq.read_table(path).to_pandas()


def _dup_input(tmp_path: Path, fmt: str) -> Path:
    if fmt == "csv":
        return write_csv(tmp_path / "dup.csv", [DUP_HEADER, DUP_ROW])
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([h or None for h in DUP_HEADER])
    ws.append(DUP_ROW)
    path = tmp_path / "dup.xlsx"
    wb.save(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("ext", [".csv", ".ndjson", ".parquet"])
def test_duplicate_and_clashing_headers_get_unique_stated_names(tmp_path: Path, fmt: str,
                                                                ext: str) -> None:
    out = tmp_path / f"out{ext}"
    result, report = check_json([str(_dup_input(tmp_path, fmt)), "-o", str(out),
                                 "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    df = _read_output(out)
    assert list(df.columns[:len(DUP_NAMES)]) == DUP_NAMES
    assert [str(df[c].iloc[0]) for c in DUP_NAMES] == DUP_ROW  # each value in its column
    assert df["status"].iloc[0] == "unverified"
    assert report["input"]["columns_renamed"] == {"nom_2": "nom", "column_4": "",
                                                  "status_input_2": "status"}
    assert report["input"]["column"] == "tel"


def test_ndjson_values_written_back_exactly(tmp_path: Path) -> None:
    f = tmp_path / "c.ndjson"
    f.write_text(
        '{"tel": "0607123456", "id": 123456789012345678901234567890, "f": 1e20, '
        '"g": 2.50, "b": true, "n": null, "o": {"k": [1, 2.0, "s"]}, "status": "VIP"}\n'
        '{"tel": "0607123457", "id": -5, "f": 0.1, "g": 7, "b": false, "n": "x", '
        '"o": [], "status": "=1+2"}\n', encoding="utf-8")
    for ext in (".csv", ".ndjson", ".parquet"):
        out = tmp_path / f"out{ext}"
        result = run_cli(["check", str(f), "-o", str(out), "-q", "--threshold", "1",
                          "--no-csv-escape"])
        assert result.exit_code == 0, result.stderr
        df = _read_output(out)
        assert df["id"].tolist() == ["123456789012345678901234567890", "-5"], ext
        assert df["f"].tolist() == ["1e20", "0.1"]
        assert df["g"].tolist() == ["2.50", "7"]
        assert df["b"].tolist() == ["true", "false"]
        assert df["o"].tolist() == ['{"k":[1,2.0,"s"]}', "[]"]
        assert df["status_input"].tolist() == ["VIP", "=1+2"]


def test_parquet_values_written_back_exactly(tmp_path: Path) -> None:
    import decimal

    table = pa.table({
        "tel": pa.array(["0607123456", "0607123457", "0607123458"]),
        "f": pa.array([1e20, float("inf"), 0.1]),
        "whole": pa.array([612345678.0, -3.0, None]),
        "big": pa.array([2**63 - 1, -(2**63), 0], pa.int64()),
        "u": pa.array([2**64 - 1, 0, 1], pa.uint64()),
        "d": pa.array([decimal.Decimal("123456789012345678901234567890"),
                       decimal.Decimal(0), None], pa.decimal128(30, 0)),
        "b": pa.array([True, False, None]),
    })
    f = tmp_path / "c.parquet"
    pq.write_table(table, f)
    out = tmp_path / "out.csv"
    assert run_cli(["check", str(f), "-o", str(out), "-q", "--threshold", "1"]).exit_code == 0
    df = _read_output(out)
    assert df["f"].tolist() == ["1e+20", "inf", "0.1"]
    assert df["whole"].tolist() == ["612345678", "-3", ""]
    assert df["big"].tolist() == [str(2**63 - 1), str(-(2**63)), "0"]
    assert df["u"].tolist() == [str(2**64 - 1), "0", "1"]
    assert df["d"].tolist() == ["123456789012345678901234567890", "0", ""]
    assert df["b"].tolist() == ["true", "false", ""]


def test_xlsx_and_stdin_values_written_back_exactly(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["tel", "i", "f", "b", "t"])
    ws.append([PHONE, 123456789012345, 0.1, True, " spaced  "])  # XLSX: 15 digits max
    ws.append(["0607123457", 7, 1e20, False, "Zoé"])
    f = tmp_path / "c.xlsx"
    wb.save(f)
    out = tmp_path / "out.ndjson"
    assert run_cli(["check", str(f), "-o", str(out), "-q", "--threshold", "1"]).exit_code == 0
    df = _read_output(out)
    assert df["i"].tolist() == ["123456789012345", "7"]
    assert df["f"].tolist() == ["0.1", "1e+20"]
    assert df["b"].tolist() == ["TRUE", "FALSE"]
    assert df["t"].tolist() == [" spaced  ", "Zoé"]
    raw = "tel;x\n0607123456; a \"q\" ;\n".replace(";\n", "\n")
    out2 = tmp_path / "out2.csv"
    result = run_cli(["check", "-", "-o", str(out2), "-q", "--threshold", "1"], input=raw)
    assert result.exit_code == 0, result.stderr
    assert _read_output(out2)["x"].tolist() == [' a "q" ']


# -- 4. temporary personal data ------------------------------------------------------------
def _spawn(args: list[str], tmp_path: Path, **kw: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen([EXE, *args], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, **kw)


def _poll(condition: Any, proc: subprocess.Popen[bytes], what: str) -> None:
    """Wait for ``condition()`` while the process lives; bounded (no timing assumed
    beyond a generous ceiling)."""
    for _ in range(6000):
        if condition():
            return
        assert proc.poll() is None, f"exited before {what}: {proc.stderr.read()!r}"  # type: ignore[union-attr]
        time.sleep(0.01)
    pytest.fail(f"never saw {what}")


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated"),
                                                   (signal.SIGINT, 130, "interrupted")])
def test_stdin_spool_removed_on_signal(tmp_path: Path, sig: int, code: int, word: str) -> None:
    proc = _spooling(tmp_path)
    spool = tmp_path / "tmp"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and word in lines[0], err
    assert not list(spool.iterdir())


def _spooling(tmp_path: Path) -> subprocess.Popen[bytes]:
    """``check -`` caught while it spools: 1.5 MB written (the spool copies 1 MB at a
    time) and stdin left open."""
    proc = _spawn(["check", "-"], tmp_path, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(b"nom;tel\n" + b"Martin;0607123456\n" * 85_000)
    proc.stdin.flush()
    _poll(lambda: _spool_size(proc.pid, tmp_path / "tmp") > 0, proc, "the spool")
    return proc


def _spool_size(pid: int, tmpdir: Path) -> int:
    """Bytes in the process's stdin spool: a file of ``tmpdir`` it holds open (on Linux
    the spool is unlinked as soon as it is created, so it is found by descriptor)."""
    size = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd).startswith(str(tmpdir / "rcsqualify-stdin-")):
                size = max(size, os.stat(fd).st_size)
        except OSError:
            continue  # closed meanwhile
    return size


def test_stdin_spool_has_no_name_so_even_a_kill_leaves_nothing(tmp_path: Path) -> None:
    """Issue #23 item 8: a native crash (Arrow's JSON reader segfaulted on deep nesting)
    runs no clean-up, so the spool is unlinked before a byte is written: SIGKILL, which
    no handler sees, leaves nothing in $TMPDIR."""
    proc = _spooling(tmp_path)
    spool = tmp_path / "tmp"
    assert not list(spool.iterdir())  # already nameless while the run holds it
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not list(spool.iterdir())


def test_part_file_removed_on_sigterm_mid_write(tmp_path: Path) -> None:
    rows = 600_000
    base = tmp_path / "big.csv"
    base.write_text("nom;tel\n" + "".join(f"n{i};06{i % 10**8:08d}\n" for i in range(rows)))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = _spawn(["check", str(base), "-o", str(out_dir / "a.csv"), "-q"], tmp_path)
    stat = Path(f"/proc/{proc.pid}/stat")
    caught = False
    # freeze the process, look for the .part, thaw: when seen frozen, it is mid-write
    def frozen() -> bool:
        # on a loaded machine a runnable process takes the stop only when next scheduled:
        # look for the .part only once the kernel says it is stopped (else it may finish
        # its write and rename between the look and the SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if stat.read_text().split(") ")[1][0] in "Tt":
                return True
            time.sleep(0.001)
        return False

    while proc.poll() is None and not caught:
        proc.send_signal(signal.SIGSTOP)
        if frozen() and list(out_dir.glob(".a.csv.*.part")):
            caught = True
            proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    if not caught:
        pytest.skip("the run finished before its .part was seen (machine too fast)")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert list(out_dir.iterdir()) == []  # no .part, no half a.csv


def test_spool_removed_when_startup_fails(tmp_path: Path) -> None:
    proc = _spawn(["check", "-"], tmp_path, stdin=subprocess.PIPE)
    _, err = proc.communicate(b"\x00\x01\x02binary", timeout=60)
    assert proc.returncode == 2 and b"binary" in err
    assert not list((tmp_path / "tmp").iterdir())
    # a cache directory that cannot be opened fails after the spool exists
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    proc = _spawn(["check", "-", "--capability", "bothub", "--bot-id", "b",
                   "--cache-dir", str(blocker / "cache")], tmp_path, stdin=subprocess.PIPE)
    _, err = proc.communicate(b"nom;tel\nMartin;0607123456\n", timeout=60)
    assert proc.returncode == 2, err
    assert b"Traceback" not in err
    assert not list((tmp_path / "tmp").iterdir())


# -- 6. spreadsheet-safe CSV ---------------------------------------------------------------
FORMULAS = {"=HYPERLINK(\"http://x\",\"y\")": True, "@SUM(A1)": True, "=1+2": True,
            "+SUM(1)": True, "-2+3*cmd|' /C calc'!A0": True, "\tx": True,
            "+33 6 12 34 56 78": False, "-12,5": False, "+3e5": False, "-": False,
            "plain": False, "a=b": False}


def test_formula_cells_are_neutralized_in_csv_outputs_and_lists(tmp_path: Path) -> None:
    cells = list(FORMULAS)
    rows = [["tel", "note"], *[[f"06071234{i:02d}", c] for i, c in enumerate(cells)]]
    base = tmp_path / "f.csv"
    with base.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)
    out, lists = tmp_path / "o.csv", tmp_path / "lists"
    assert run_cli(["check", str(base), "-o", str(out), "--split-dir", str(lists),
                    "--split-xlsx", "-q", "--threshold", "1"]).exit_code == 0
    expected = [("'" + c) if bad else c for c, bad in FORMULAS.items()]
    assert _read_output(out)["note"].tolist() == expected
    assert _read_output(out)["msisdn_e164"].iloc[0] == "+33607123400"
    assert sorted(_read_output(lists / "unverified.csv")["note"]) == sorted(expected)
    import openpyxl

    ws = openpyxl.load_workbook(lists / "unverified.xlsx").active
    assert ws is not None
    values = [r[1] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert sorted(values) == sorted(cells)  # XLSX: text cells, nothing to escape
    # --no-csv-escape: verbatim; NDJSON is never escaped
    nd = tmp_path / "o.ndjson"
    run_cli(["check", str(base), "-o", str(out), "--no-csv-escape", "-q"])
    run_cli(["check", str(base), "-o", str(nd), "-q"])
    assert _read_output(out)["note"].tolist() == cells
    assert _read_output(nd)["note"].tolist() == cells


def test_formula_column_names_are_neutralized_in_csv_outputs_and_lists(tmp_path: Path
                                                                      ) -> None:
    """Issue #23 item 14: cells were escaped, column names were not: a header
    ``=HYPERLINK("http://evil/")`` or ``@cmd`` reached the header row of ``-o`` and
    every CSV list as written."""
    names = ['=HYPERLINK("http://evil/")', "@cmd", "-2+3", "+33 6 12", "tel"]
    base = tmp_path / "h.csv"
    with base.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows([names, ["a", "b", "c", "d", PHONE]])
    out, lists = tmp_path / "o.csv", tmp_path / "lists"
    result = run_cli(["check", str(base), "-o", str(out), "--split-dir", str(lists), "-q",
                      "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    expected = ['\'=HYPERLINK("http://evil/")', "'@cmd", "'-2+3", "+33 6 12", "tel"]
    for path in (out, *(lists / f"{n}.csv" for n in ("send_rcs", "not_rcs", "remove",
                                                     "unverified", "other_operators"))):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh, delimiter=";"))
        assert header[:5] == expected, (path.name, header)
    nd = tmp_path / "o.ndjson"  # not a spreadsheet format: names as they are
    assert run_cli(["check", str(base), "-o", str(nd), "-q", "--threshold", "1"]
                   ).exit_code == 0
    assert list(json.loads(nd.read_text(encoding="utf-8").splitlines()[0]))[:5] == names


# -- 7. no cell content in messages; control characters in XLSX ----------------------------
def test_control_characters_in_xlsx_lists_are_removed_and_counted(tmp_path: Path) -> None:
    base = write_csv(tmp_path / "c.csv", [["nom", "tel"], ["Mar\x01tin", PHONE + "\x01"],
                                          ["Ok", "0607123457"]])
    lists = tmp_path / "lists"
    result, report = check_json([str(base), "--split-dir", str(lists), "--split-xlsx",
                                 "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert PHONE not in result.stderr and "Traceback" not in result.stderr
    assert report["split_lists"]["xlsx_control_characters_removed"] == 2
    assert any("control characters" in w for w in report["warnings"])
    import openpyxl

    found = []
    for name in ("remove", "unverified"):
        ws = openpyxl.load_workbook(lists / f"{name}.xlsx").active
        assert ws is not None
        found += [v for row in ws.iter_rows(values_only=True) for v in row if v]
    assert "Martin" in found
    assert not list(lists.glob(".*part"))
    csv_cells = (lists / "remove.csv").read_text(encoding="utf-8") + (
        lists / "unverified.csv").read_text(encoding="utf-8")
    assert "Mar\x01tin" in csv_cells  # CSV keeps the value as read


def test_errors_name_line_and_column_never_the_cell(tmp_path: Path) -> None:
    ragged = tmp_path / "r.csv"  # a ragged row is read (issue #26); a bad byte is not
    ragged.write_bytes(f"nom;tel\na;{PHONE}\nb;{PHONE};x\nc\xff;{PHONE}\n".encode("latin-1"))
    line = _one_error_line(run_cli(["check", str(ragged), "--encoding", "utf-8"]), "not utf-8")
    assert PHONE not in line
    nd = tmp_path / "bad.ndjson"
    nd.write_text(f'{{"tel": "{PHONE}"}}\n{{"tel": "{PHONE}"\n', encoding="utf-8")
    assert PHONE not in _one_error_line(run_cli(["check", str(nd)]), "line 2")
    bad = tmp_path / "b.csv"
    bad.write_bytes(f"nom;tel\nab\xff;{PHONE}\n".encode("latin-1"))
    line = _one_error_line(run_cli(["check", str(bad), "--encoding", "utf-8"]))
    assert PHONE not in line


# -- 8. reading ----------------------------------------------------------------------------
def test_cr_only_line_endings(tmp_path: Path) -> None:
    f = tmp_path / "mac.csv"
    f.write_bytes(b"nom;tel\rMartin;0607123456\rDurand;0601012345\r")
    result, report = check_json([str(f), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["rows"] == 2 and report["input"]["column"] == "tel"


def test_ndjson_key_first_seen_after_8_mb(tmp_path: Path) -> None:
    f = tmp_path / "late.ndjson"
    line = json.dumps({"tel": PHONE, "nom": "x" * 40}) + "\n"
    count = (9 << 20) // len(line)
    f.write_text(line * count + json.dumps({"tel": PHONE, "late": "here"}) + "\n")
    out = tmp_path / "o.parquet"
    result, report = check_json([str(f), "-o", str(out), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["rows"] == count + 1
    late = pq.read_table(out, columns=["late"]).column(0).to_pylist()
    assert late[-1] == "here" and late[0] is None


@pytest.mark.parametrize("name", ["rot13", "no-such-codec"])
def test_unknown_encoding_lists_common_ones(tmp_path: Path, name: str) -> None:
    _one_error_line(run_cli(["check", str(_base(tmp_path)), "--encoding", name]),
                    name, "cp1252", "utf-8")


def test_first_row_is_data_unless_it_reads_as_labels(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "d.csv", [["Martin", "", "Paris"], ["Durand", PHONE, "Lyon"],
                                       ["Petit", "0601012345", "Nice"]])
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["counts"]["rows"] == 3 and report["input"]["header"] is False
    assert report["counts"]["invalid"] == 1  # Martin's empty cell is a contact too
    _, report = check_json([str(f), "--header", "--column", "2", "--threshold", "1"])
    assert report["counts"]["rows"] == 2 and report["input"]["header"] is True
    g = write_csv(tmp_path / "h.csv", [["Nom", "Tel 2", "Ville"], ["Durand", PHONE, "Lyon"]])
    _, report = check_json([str(g), "--threshold", "1"])
    assert report["counts"]["rows"] == 1 and report["input"]["column"] == "Tel 2"
    _, report = check_json([str(g), "--no-header", "--column", "2", "--threshold", "1"])
    assert report["counts"]["rows"] == 2 and report["input"]["header"] is False
    n = write_csv(tmp_path / "n.csv", [["Durand", PHONE], ["Petit", "0601012345"]])
    _, report = check_json([str(n), "--threshold", "1"])
    assert report["counts"]["rows"] == 2


def test_xlsx_first_row_of_data(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Martin", None, "Paris"])
    ws.append(["Durand", 607123456, "Lyon"])
    f = tmp_path / "d.xlsx"
    wb.save(f)
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["counts"]["rows"] == 2 and report["input"]["header"] is False


# -- 9. outputs that cannot be written ------------------------------------------------------
def test_output_that_cannot_be_written_keeps_the_previous_file(tmp_path: Path) -> None:
    import resource

    base = tmp_path / "b.csv"
    base.write_text("nom;tel\n" + "".join(f"n{i};06071{i:05d}\n" for i in range(20000)))
    out = tmp_path / "out.csv"
    out.write_text("previous run\n")

    def small_files() -> None:  # a full disk, as far as this process can tell
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    proc = subprocess.run([EXE, "check", str(base), "-o", str(out), "-q"],
                          capture_output=True, preexec_fn=small_files, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0] and str(out) in lines[0], err
    assert out.read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.csv", "out.csv"]


# -- the HTML report and a log line of a failed run ----------------------------------------
def test_history_line_with_null_ratio(tmp_path: Path) -> None:
    log = tmp_path / "refresh.log"
    log.write_text("\n".join(json.dumps(x) for x in [
        {"at": "2026-01-01", "error_ratio": 0.1}, {"at": "2026-01-02", "error_ratio": None},
        {"at": "2026-01-03", "error_ratio": 0.2}, [1, 2], "text"]) + "\nnot json\n")
    html = tmp_path / "r.html"
    result = run_cli(["check", str(_base(tmp_path)), "--html-report", str(html),
                      "--history", str(log), "-q", "--lang", "en"])
    assert result.exit_code in (0, 1), result.stderr
    assert "2 runs" in html.read_text(encoding="utf-8")


def test_atomic_write_keeps_mode_of_existing_file(tmp_path: Path) -> None:
    from rcsqualify.files import atomic_write

    target = tmp_path / "private.csv"
    target.write_text("old")
    target.chmod(0o600)
    with atomic_write(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o600
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["private.csv"]
