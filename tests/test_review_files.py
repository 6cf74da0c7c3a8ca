"""The user's files, found by a hostile review (each reproduced before its fix)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from tests.conftest import SAMPLE
from tests.helpers import run_cli, write_csv


def test_a_report_to_a_fifo_is_written_into_it_not_over_it(tmp_path: Path) -> None:
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = run_cli(["check", str(SAMPLE / "contacts.csv"), "--json-report", str(fifo), "-q"])
    reader.join(timeout=60)
    # the sample offline: undecided (exit 3), the report written all the same
    assert result.exit_code == 3 and json.loads(got[0])["counts"]["rows"] == 154
    assert not fifo.is_file() and fifo.exists()  # still a FIFO


def test_a_report_through_a_symlink_replaces_the_file_and_keeps_the_link(tmp_path: Path
                                                                         ) -> None:
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    result = run_cli(["check", str(SAMPLE / "contacts.csv"), "--json-report", str(link), "-q"])
    assert result.exit_code == 3 and link.is_symlink()
    assert json.loads(target.read_text())["counts"]["rows"] == 154


def test_portability_import_never_overwrites_a_file_that_is_not_a_store(tmp_path: Path
                                                                        ) -> None:
    base = tmp_path / "mycontacts.csv"
    base.write_bytes((SAMPLE / "contacts.csv").read_bytes())
    result = run_cli(["portability", "import", "--into", str(base),
                      str(SAMPLE / "portability.csv")])
    assert result.exit_code == 2 and "not a portability store" in result.stderr
    assert base.read_bytes() == (SAMPLE / "contacts.csv").read_bytes()


def test_a_data_row_taken_for_a_header_is_never_quoted(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "t.csv", [["Dupont", "06 12 34 56 78", "12 rue X"],
                                       ["Martin", "06 12 34 56 79", "3 rue Y"]])
    result = run_cli(["check", str(f), "--column", "nope"])
    assert result.exit_code == 2 and "columns are" in result.stderr
    assert "12 34 56" not in result.stderr and "0612345678" not in result.stderr


def test_unmapped_operator_values_are_masked_in_every_output(tmp_path: Path) -> None:
    rows = [["numero", "operateur"], *[[f"0607{i:06d}", "FRTE"] for i in range(19)],
            ["0607000099", "rappeler le 06 12 34 56 78"]]
    extract = write_csv(tmp_path / "e.csv", rows)
    result = run_cli(["check", str(SAMPLE / "contacts.csv"), "--portability", str(extract),
                      "--portability-max-unmapped", "0.5", "--json-report", "-"])
    assert result.exit_code in (0, 1, 3)
    assert "0612345678" not in result.stdout + result.stderr
    assert "12 34 56 78" not in result.stdout + result.stderr


def test_two_documents_on_standard_output_are_refused(monkeypatch: object) -> None:
    result = run_cli(["check", str(SAMPLE / "contacts.csv"), "--json-report", "-",
                      "--junit-xml", "-"])
    assert result.exit_code == 2 and "standard output" in result.stderr
    assert result.stdout == ""


# -- found by the review of profiles, MNP and Redis -----------------------------------

def test_a_profile_path_is_read_beside_the_profile_file_not_in_the_working_directory(
        tmp_path: Path, monkeypatch: object) -> None:
    import pytest as _pytest

    assert isinstance(monkeypatch, _pytest.MonkeyPatch)
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.toml").write_text('[profiles.prod]\nmnp-profile = "mine.toml"\n')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "mine.toml").write_text("name = 'evil'\n")
    monkeypatch.chdir(repo)
    from rcsqualify.config import load_profile

    profile = load_profile(conf / "config.toml", "prod", ["mnp-profile", "rate"])
    assert profile.options["mnp-profile"] == str((conf / "mine.toml").resolve())


def test_a_mistyped_redis_url_is_refused_and_never_shown(tmp_path: Path,
                                                         monkeypatch: object) -> None:
    import pytest as _pytest

    assert isinstance(monkeypatch, _pytest.MonkeyPatch)
    monkeypatch.chdir(tmp_path)
    for url in (" redis://:s3cr3tPW@127.0.0.1:1/0", "redis:/:s3cr3tPW@127.0.0.1:1/0"):
        result = run_cli(["cache", "info", "--cache-url", url])
        assert result.exit_code == 2 and "s3cr3tPW" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []  # no directory named after the URL


def test_plan_reset_leaves_a_majnum_it_did_not_install(tmp_path: Path,
                                                       monkeypatch: object) -> None:
    import pytest as _pytest

    assert isinstance(monkeypatch, _pytest.MonkeyPatch)
    plan_dir = tmp_path / "plans"
    plan_dir.mkdir()
    (plan_dir / "MAJNUM.csv").write_text("precious")
    monkeypatch.setenv("RCSQUALIFY_PLAN_DIR", str(plan_dir))
    result = run_cli(["plan", "reset"])
    assert result.exit_code == 2 and "not installed by" in result.stderr
    assert (plan_dir / "MAJNUM.csv").read_text() == "precious"


def test_an_ndjson_object_repeating_a_key_keeps_both_values(tmp_path: Path) -> None:
    f = tmp_path / "dup.ndjson"
    f.write_text('{"tel":"0607000001","a":1,"a":2}\n{"tel":"0607000002","a":3}\n')
    out = tmp_path / "out.ndjson"
    result = run_cli(["check", str(f), "-o", str(out), "--json-report", "-", "-q"])
    report = json.loads(result.stdout)
    assert report["input"]["columns_renamed"] == {"a (2)": "a"}
    first = json.loads(out.read_text().splitlines()[0])
    assert first["a"] == "1" and first["a (2)"] == "2"


def test_an_xlsx_workbook_on_standard_input(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["nom", "mobile"])
    ws.append(["a", "0607000001"])
    wb.save(tmp_path / "x.xlsx")
    result = run_cli(["check", "-", "--json-report", "-", "-q"],
                     input=(tmp_path / "x.xlsx").read_bytes())
    # one Orange mobile, not checked: undecided (exit 3)
    assert result.exit_code == 3 and json.loads(result.stdout)["counts"]["rows"] == 1


def test_html_report_dash_goes_to_stdout_alone(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #23 item 20: ``--html-report -`` wrote a file literally named ``-``. Every
    output follows one rule: ``-`` is standard output, at most one output may be ``-``,
    and nothing else (GitHub annotations included) goes there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    contacts = str(SAMPLE / "contacts.csv")
    result = run_cli(["check", contacts, "--html-report", "-", "-q", "--threshold", "0"])
    assert result.exit_code == 1, result.stderr  # a failing gate: annotations would be due
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.rstrip().endswith(
        "</html>"), result.stdout[:200]
    assert "\n::" not in result.stdout
    assert not (tmp_path / "-").exists()
    for pair in (["--html-report", "-", "--json-report", "-"],
                 ["--html-report", "-", "--junit-xml", "-"]):
        two = run_cli(["check", contacts, *pair])
        assert two.exit_code == 2 and "standard output" in two.stderr, two.stderr
        assert not two.stdout and not (tmp_path / "-").exists()


def test_an_output_through_a_dangling_symlink_is_refused(tmp_path: Path) -> None:
    """A dangling link used to be followed: the report was created where it pointed,
    directories included. It is refused (exit 2) before anything is read."""
    nowhere = tmp_path / "nowhere" / "deep" / "r.html"
    contacts = str(SAMPLE / "contacts.csv")
    for option, name in (("--html-report", "r.html"), ("--json-report", "r.json"),
                         ("-o", "out.csv"), ("--junit-xml", "j.xml")):
        link = tmp_path / name
        link.symlink_to(nowhere)
        result = run_cli(["check", contacts, option, str(link)])
        assert result.exit_code == 2, result.stderr
        assert "symbolic link to nothing" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "nowhere").exists() and link.is_symlink()
