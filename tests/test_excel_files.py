"""Issue #26 item 5: files as Excel users keep them (ragged rows, ...), with real files."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pytest

from rcsqualify.contacts import ContactSource, delimited
from tests.helpers import check_json, run_cli

PHONES = [f"06071234{i:02d}" for i in range(60)]


def _annotated(path: Path, delimiter: str = ";") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def test_short_and_long_rows_are_read_kept_and_counted(tmp_path: Path) -> None:
    """A short row (a hand-edited line) and a long one stopped the run with exit 2:
    now every row is in the annotated output, missing cells empty, extra cells (in the
    file's CSV syntax) in ``extra``, and both counted in the read line and the JSON."""
    f = tmp_path / "ragged.csv"
    f.write_text("nom;tel;ville\n"
                 f"Martin;{PHONES[0]};Paris\n"
                 f"Durand;{PHONES[1]}\n"
                 f'Petit;{PHONES[2]};Lyon;note;"a;b"\n'
                 f"Leroy;{PHONES[3]};Nice\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["rows"] == 4 and report["counts"]["rows"] == 4
    assert report["input"]["short_rows"] == 1 and report["input"]["long_rows"] == 1
    rows = _annotated(out)
    assert [r["tel"] for r in rows] == PHONES[:4]
    assert [r["ville"] for r in rows] == ["Paris", "", "Lyon", "Nice"]
    assert [r["extra"] for r in rows] == ["", "", 'note;"a;b"', ""]
    assert all(r["status"] == "unverified" for r in rows)
    text = run_cli(["check", str(f), "--threshold", "1"]).stderr
    assert "1 short row (" in text and "1 long row (" in text


def test_an_input_column_named_extra_is_kept_beside_ours(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text(f"tel;extra\n{PHONES[0]};mine\n{PHONES[1]};mine;theirs\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["columns_renamed"] == {"extra_input": "extra"}
    rows = _annotated(out)
    assert [(r["extra_input"], r["extra"]) for r in rows] == [("mine", ""), ("mine", "theirs")]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_ragged_row_after_whole_blocks_keeps_order(tmp_path: Path, encoding: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The ragged row lies blocks after the start, so Arrow has yielded rows before it
    (and, in cp1252, Arrow reads the bytes): the rows come out once each, in order."""
    monkeypatch.setattr(delimited, "BATCH_BYTES", 1 << 12)
    monkeypatch.setattr(delimited, "BATCH_ROWS", 1000)
    lines = ["Nom;Téléphone;Ville"]
    n = 3000
    for i in range(n):
        ville = "Orléans" if i % 7 else "Évry"
        lines.append(f"N{i};06{i:08d};{ville}" + (";x" if i == 2500 else "")
                     if i != 2600 else f"N{i};06{i:08d}")
    path = tmp_path / "c.csv"
    path.write_bytes("\n".join(lines).encode(encoding))
    with ContactSource(str(path)) as src:
        phones = pa.chunked_array(list(src.phone_batches())).to_pylist()
        assert phones == [f"06{i:08d}" for i in range(n)]
        assert (src.info.short_rows, src.info.long_rows) == (1, 1)
        assert src.output_columns == ["Nom", "Téléphone", "Ville", "extra"]
        table = pa.Table.from_batches(list(src.batches()))
    assert table.column_names == src.output_columns
    assert table.column("Nom").to_pylist() == [f"N{i}" for i in range(n)]
    assert table.column("Ville").to_pylist()[2599:2601] == ["Orléans", ""]
    assert table.column("Ville").to_pylist()[7] == "Évry"
    extra = table.column("extra").to_pylist()
    assert extra[2500] == "x" and extra.count("") == n - 1


# -- footer / total rows -------------------------------------------------------------
def test_a_total_row_is_a_footer_not_an_invalid_number(tmp_path: Path) -> None:
    """``TOTAL;;3`` at the end was an invalid number counted against the base: it is a
    footer (read line, ``input.footer_rows``), out of the rows and the messages, and
    kept in the annotated output with reason ``footer`` (every input row is there)."""
    f = tmp_path / "export.csv"
    f.write_text("nom;tel;ville\n" + "".join(f"N{i};{PHONES[i]};Paris\n" for i in range(3))
                 + "Sous-total :;3;\nTOTAL;;3\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    split = tmp_path / "lists"
    result, report = check_json([str(f), "--threshold", "1", "-o", str(out),
                                 "--split-dir", str(split)])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["footer_rows"] == 2 and report["input"]["rows"] == 3
    assert report["counts"]["rows"] == 3 and report["counts"]["invalid"] == 0
    rows = _annotated(out)
    assert [r["nom"] for r in rows] == ["N0", "N1", "N2", "Sous-total :", "TOTAL"]
    assert [r["reason"] for r in rows[3:]] == ["footer", "footer"]
    assert [r["status"] for r in rows[3:]] == ["", ""]
    listed = [r["nom"] for p in split.glob("*.csv") for r in _annotated(p)]
    assert sorted(listed) == ["N0", "N1", "N2"]
    text = run_cli(["check", str(f), "--threshold", "1"]).stderr
    assert "2 footer rows" in text


@pytest.mark.parametrize("last", [
    "Total;0607123499;3",      # a phone-like value: a contact, never a footer
    "Totalement;;3",           # not the label
    "Total;;",                 # no sum or count beside it
])
def test_what_is_not_a_footer(tmp_path: Path, last: str) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"nom;tel;n\nA;{PHONES[0]};1\n{last}\n", encoding="utf-8")
    _result, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["footer_rows"] == 0 and report["counts"]["rows"] == 2


def test_a_total_row_in_the_middle_is_a_row(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"nom;tel\nTotal;3\nA;{PHONES[0]}\n", encoding="utf-8")
    _result, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["footer_rows"] == 0 and report["counts"]["rows"] == 2


def test_an_xlsx_total_row_is_a_footer(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Nom", "Téléphone", "Montant"])
    for i in range(4):
        ws.append([f"N{i}", PHONES[i], 10 * i])
    ws.append(["Somme", None, 60])
    f = tmp_path / "export.xlsx"
    wb.save(f)
    _result, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["footer_rows"] == 1 and report["counts"]["rows"] == 4
    assert report["counts"]["invalid"] == 0


# -- title rows, --skip-rows, --header-row ---------------------------------------------
def test_a_title_row_above_the_header_is_skipped_and_said(tmp_path: Path) -> None:
    """The title and the header counted as contacts (and the delimiter went unseen when
    the title line had none): the title row is detected, skipped and said."""
    for name, text, above in (("semi.csv", "Export clients 2026;;\nNom;Tél;Ville\n", 1),
                              ("bare.csv", "Export clients du 07/12/2026\n\nNom;Tél;Ville\n",
                               2)):  # the blank row counts: the header is row 3
        f = tmp_path / name
        f.write_text(text + "".join(f"N{i};{PHONES[i]};Paris\n" for i in range(3))
                     + f"N3;{PHONES[3]};Paris;note\n", encoding="utf-8")
        out = tmp_path / f"out-{name}"
        result, report = check_json([str(f), "--threshold", "1", "-o", str(out)])
        assert result.exit_code == 0, result.stderr
        assert report["input"]["title_row"] is True
        assert report["input"]["skipped_rows"] == above
        assert report["input"]["header_row"] == above + 1
        assert report["counts"]["rows"] == 4 and report["counts"]["invalid"] == 0
        assert report["input"]["delimiter"] == ";" and report["input"]["column"] == "Tél"
        assert [r["Nom"] for r in _annotated(out)] == ["N0", "N1", "N2", "N3"]
        assert "title row above the header skipped" in run_cli(
            ["check", str(f), "--threshold", "1"]).stderr


def test_an_xlsx_title_row_and_the_skip_options(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Clients au 7 décembre"])
    ws.append(["Extraction CRM"])
    ws.append(["Nom", "Portable"])
    for i in range(3):
        ws.append([f"N{i}", PHONES[i]])
    f = tmp_path / "t.xlsx"
    wb.save(f)
    for args in (["--skip-rows", "2"], ["--header-row", "3"]):
        _result, report = check_json([str(f), "--threshold", "1", *args])
        assert report["input"]["skipped_rows"] == 2 and report["input"]["title_row"] is False
        assert report["counts"]["rows"] == 3 and report["input"]["column"] == "Portable"
    # two title lines: not detected (only one is), the header is not found by label
    _result, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["skipped_rows"] == 0


@pytest.mark.parametrize("first", ["0607123411;;", "Martin;0607123411;Paris"])
def test_a_contact_first_row_is_never_a_title(tmp_path: Path, first: str) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"{first}\nDurand;;Nice\nPetit;{PHONES[2]};Lyon\n", encoding="utf-8")
    _result, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["skipped_rows"] == 0 and report["counts"]["rows"] == 3


def test_skip_options_are_checked(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"tel\n{PHONES[0]}\n", encoding="utf-8")
    for args, needle in ((["--skip-rows", "1", "--header-row", "2"], "give one"),
                         (["--header-row", "0"], "counts from 1"),
                         (["--skip-rows", "5"], "leaves no row")):
        result = run_cli(["check", str(f), *args])
        assert result.exit_code == 2 and needle in result.stderr, result.stderr
    nd = tmp_path / "c.ndjson"
    nd.write_text(f'{{"tel": "{PHONES[0]}"}}\n', encoding="utf-8")
    result = run_cli(["check", str(nd), "--skip-rows", "1"])
    assert result.exit_code == 2 and "applies to csv, xlsx, xls files" in result.stderr


# -- --excel / --csv-dialect ------------------------------------------------------------
def _xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Nom", "Téléphone", "Ville"])
    ws.append(["Hélène", PHONES[0], "Orléans"])
    wb.save(path)
    return path


@pytest.mark.parametrize(("text", "args", "delimiter", "bom"), [
    (None, [], ";", True),                                   # an Excel workbook
    ("Nom;Tél\nHélène;{p}\n", [], ";", True),                # a ';' CSV: Excel's own
    ("Nom,Tél\nHélène,{p}\n", [], ",", False),               # a ',' CSV as before
    ("Nom,Tél\nHélène,{p}\n", ["--excel"], ";", True),
    ("Nom,Tél\nHélène,{p}\n", ["--csv-dialect", "excel-fr"], ";", True),
    ("Nom;Tél\nHélène;{p}\n", ["--csv-dialect", "standard"], ",", False),
])
def test_the_csv_dialect_of_outputs_and_lists(tmp_path: Path, text: str | None,
                                              args: list[str], delimiter: str,
                                              bom: bool) -> None:
    """The annotated CSV of an XLSX was comma/UTF-8 without BOM: French Excel opened it
    in one column with broken accents. Excel users' inputs now get ';' and a BOM."""
    if text is None:
        f = _xlsx(tmp_path / "in.xlsx")
    else:
        f = tmp_path / "in.csv"
        f.write_text(text.format(p=PHONES[0]), encoding="utf-8")
    out = tmp_path / "out.csv"
    lists = tmp_path / "lists"
    result, _report = check_json([str(f), "--threshold", "1", "-o", str(out),
                                  "--split-dir", str(lists), *args])
    assert result.exit_code == 0, result.stderr
    for path in (out, lists / "unverified.csv"):
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") is bom, path
        rows = _annotated(path, delimiter)
        assert rows[0]["Nom"] == "Hélène" and rows[0]["status"] == "unverified"


def test_contradicting_dialects_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "c.csv"
    f.write_text(f"tel\n{PHONES[0]}\n", encoding="utf-8")
    for args in (["--excel", "--csv-dialect", "standard"], ["--csv-dialect", "latin"]):
        result = run_cli(["check", str(f), *args])
        assert result.exit_code == 2 and "--csv-dialect" in result.stderr, result.stderr


# -- missing output folders ----------------------------------------------------------------
def test_missing_output_folders_are_created_and_said(tmp_path: Path) -> None:
    """``-o`` created missing folders but ``--json-report`` refused them: one rule now,
    for the annotated output, every report and the split folder, each said on stderr."""
    f = tmp_path / "c.csv"
    f.write_text(f"tel\n{PHONES[0]}\n", encoding="utf-8")
    new = tmp_path / "new"
    result = run_cli(["check", str(f), "--threshold", "1", "-q",
                      "-o", str(new / "a" / "out.csv"), "--json-report",
                      str(new / "b" / "r.json"), "--split-dir", str(new / "c" / "lists")])
    assert result.exit_code == 0, result.stderr
    for made in (new / "a" / "out.csv", new / "b" / "r.json", new / "c" / "lists"):
        assert made.exists(), made
    for folder in ("a", "b", "c/lists"):
        assert f"created folder {new / folder}" in result.stderr, result.stderr
    blocker = tmp_path / "afile"
    blocker.write_text("mine\n")
    result = run_cli(["check", str(f), "--json-report", str(blocker / "r.json")])
    assert result.exit_code == 2 and "not a directory" in result.stderr
    assert blocker.read_text() == "mine\n"
