"""Hostile review (session 8) of the input readers: real files written by the test
(Parquet, CSV in several encodings and line endings, XLSX, XLS) run through ``check``
as a user runs it, each test naming the commit it attacks."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import check_json, run_cli

PHONES = [f"06071234{i:02d}" for i in range(60)]


def _annotated(path: Path) -> list[dict[str, str]]:
    """The annotated CSV's rows (its delimiter follows the input's: ';' for a sheet)."""
    text = path.read_text(encoding="utf-8-sig")
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


# -- a9182b4: a float32 phone column of a Parquet *file* ----------------------------------
def _parquet(path: Path, columns: dict[str, object]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize(("kind", "dictionary"), [
    ("float32", False), ("float16", False), ("float32", True)])
def test_a_float32_phone_column_of_a_parquet_file_is_refused(
        tmp_path: Path, kind: str, dictionary: bool) -> None:
    """a9182b4 refused a float32 phone column of a DataFrame/Arrow table; the same
    column written to a Parquet file was read: 612345678 as 612345664, somebody
    else's plausible mobile, checked and reported. Now exit 2, one line naming the
    column, no number in it."""
    import numpy as np
    import pyarrow as pa

    with np.errstate(over="ignore"):
        values = np.array([612345678, 687654321], dtype=kind)
    column = pa.array(values)  # a pandas Categorical of float32 written by to_parquet:
    f = _parquet(tmp_path / "base.parquet",  # a dictionary column (value type float32)
                 {"name": ["a", "b"],
                  "tel": column.dictionary_encode() if dictionary else column})
    result = run_cli(["check", str(f)])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert f"the phone column tel is {kind}" in line, line
    assert "\n" not in line and "Traceback" not in result.stderr and "612345" not in line


def test_a_float32_contact_id_of_a_parquet_file_is_refused(tmp_path: Path) -> None:
    import numpy as np
    import pyarrow as pa

    f = _parquet(tmp_path / "ids.parquet", {
        "tel": ["0612345678", "0687654321"],
        "client": pa.array(np.array([100000001, 100000002], dtype=np.float32))})
    result = run_cli(["check", str(f), "--contact-id", "client"])
    assert result.exit_code == 2
    assert "the contact id column client is float32" in result.stderr


def test_a_parquet_float32_column_that_holds_nothing_or_is_no_phone_is_read(
        tmp_path: Path) -> None:
    """An all-null float32 phone column lost nothing, a float32 amount is no phone:
    both read as before; a float64 phone column reads exactly."""
    import numpy as np
    import pyarrow as pa

    f = _parquet(tmp_path / "ok.parquet", {
        "tel": pa.array(np.array([612345678, 687654321], dtype=np.float64)),
        "amount": pa.array(np.array([1.5, 2.25], dtype=np.float32)),
        "fax": pa.array([None, None], type=pa.float32())})
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "-c", "tel", "-c", "fax", "-o", str(out)])
    assert result.exit_code in (0, 1), result.stderr
    assert report["input"]["rows"] == 2
    assert [r["msisdn_e164"] for r in _annotated(out)] == ["+33612345678", "+33687654321"]


# -- f79daf5: --header-row beside --skip-rows / --no-header, in a profile ---------------
TITLED = '"Export CRM\nover two lines"\n\nNom;Portable\na;0612345678\nb;0687654321\n'


def test_header_row_past_the_last_row_names_the_option_given(tmp_path: Path) -> None:
    """``--header-row 99`` said ``--skip-rows 98 leaves no row to read``: an option the
    user never typed, a number off by one from theirs."""
    f = tmp_path / "crm.csv"
    f.write_text(TITLED, encoding="utf-8")
    said = run_cli(["check", str(f), "--header-row", "99"])
    assert said.exit_code == 2
    assert "--header-row 99 leaves no row to read" in said.stderr, said.stderr
    assert "--skip-rows" not in said.stderr
    said = run_cli(["check", str(f), "--skip-rows", "99"])
    assert "--skip-rows 99 leaves no row to read" in said.stderr
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Portable"])
    sheet.append(["0612345678"])
    book.save(tmp_path / "s.xlsx")
    said = run_cli(["check", str(tmp_path / "s.xlsx"), "--header-row", "3"])
    assert said.exit_code == 2
    assert "--header-row 3 leaves no row to read (the sheet's last non-blank row is " \
           "row 2)" in said.stderr, said.stderr


def test_header_row_and_no_header_contradict(tmp_path: Path) -> None:
    """``--header-row 3 --no-header`` read row 3 (the header) as a contact, silently:
    two options saying opposite things are refused, as --skip-rows with --header-row."""
    f = tmp_path / "crm.csv"
    f.write_text(TITLED, encoding="utf-8")
    said = run_cli(["check", str(f), "--header-row", "3", "--no-header"])
    assert said.exit_code == 2
    assert "--header-row 3 says row 3 is the header and --no-header that there is " \
           "none: give one" in said.stderr, said.stderr


@pytest.mark.parametrize(("profile", "typed", "header_row", "header"), [
    ("header-row = 3", ["--skip-rows", "2"], 3, True),
    ("skip-rows = 1", ["--header-row", "3"], 3, True),
    ("header-row = 3", ["--no-header", "--skip-rows", "3"], 4, False),
    ("header = false", ["--header-row", "3"], 3, True),
])
def test_the_command_line_wins_over_the_profiles_header_row(
        tmp_path: Path, profile: str, typed: list[str], header_row: int,
        header: bool) -> None:
    """A profile's ``header-row = 3`` and a typed ``--skip-rows 2`` (or the reverse, or
    the profile's ``header = false``) stopped the run: 'say the same thing: give one',
    a contradiction the user never wrote (one of them is a default they override).
    The typed option wins, as it does over any profile value."""
    f = tmp_path / "crm.csv"
    f.write_text(TITLED, encoding="utf-8")
    cfg = tmp_path / "rcsqualify.toml"
    cfg.write_text(f"[profiles.crm]\n{profile}\n", encoding="utf-8")
    result, report = check_json([str(f), "--config", str(cfg), "--profile", "crm",
                                 "--threshold", "1", *typed])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["header_row"] == header_row
    assert report["input"]["header"] is header


# -- 9098dbf: a sheet's cells right of the header in ``extra`` ---------------------------
def test_one_extra_cell_holding_a_semicolon_is_not_two_cells(tmp_path: Path) -> None:
    """One cell ``x;y`` right of the header was written as its bare text, exactly the
    ``extra`` of the two cells ``x`` and ``y``: the ';' line could not be read back. It
    is now quoted as the CSV syntax has it (as a CSV input's ``extra`` is), so splitting
    ``extra`` as a ';' CSV line gives the cells back; a plain cell stays its text."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    cells: list[list[str]] = [["x;y"], ["x", "y"], ["line1\nline2"], ['say "hi"'],
                              ["plain"], ["a", "b;c", ""]]
    sheet.append(["Nom", "Portable"])
    for i, past in enumerate(cells):
        sheet.append([f"n{i}", PHONES[i], *past])
    book.save(tmp_path / "notes.xlsx")
    out = tmp_path / "out.csv"
    result = run_cli(["check", str(tmp_path / "notes.xlsx"), "-q", "-o", str(out),
                      "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    extra = [r["extra"] for r in _annotated(out)]
    assert extra[0] != extra[1]
    assert extra[4] == "plain"
    back = [next(csv.reader(io.StringIO(e, newline=""), delimiter=";")) for e in extra]
    assert back == [[c for c in past if c] for past in cells]


def test_a_csv_extra_cell_with_a_line_break_is_quoted(tmp_path: Path) -> None:
    """A CSV's cells past its header were joined by a writer with no line terminator,
    which (Python 3.11) left a cell's line break unquoted: ``a;l1<LF>l2`` read back as
    two lines. The ``extra`` of a CSV and of a sheet split back into their cells."""
    f = tmp_path / "long.csv"
    f.write_bytes(f'Nom;Portable\r\na;{PHONES[0]};"l1\nl2";x\r\nb;{PHONES[1]}\r\n'
                  .encode("cp1252"))
    out = tmp_path / "out.csv"
    result = run_cli(["check", str(f), "-q", "-o", str(out), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    extra = [r["extra"] for r in _annotated(out)]
    assert [next(csv.reader(io.StringIO(e, newline=""), delimiter=";"), [])
            for e in extra] == [["l1\nl2", "x"], []]


# -- 320d6e6: contact ids that mean none -----------------------------------------------
def test_typographic_dashes_and_pandas_missing_texts_are_blank_ids(tmp_path: Path) -> None:
    """320d6e6 made ``-`` a blank id but not the dash Excel's autocorrect or a word
    processor puts in an empty cell (``–`` en dash, ``—`` em dash, ``−`` minus), nor
    pandas' ``NaT`` / ``<NA>`` beside its ``nan`` / ``None``: every such row was still
    one contact, cut at the cap, its other numbers never looked at. Real ids holding
    those words (``0``, ``null1``, ``--``, ``x—y``) are ids."""
    f = tmp_path / "ids.csv"
    blank = ["\u2014", "\u2013", "\u2212", " \u2014 ", "NaT", "<NA>", "nat"]
    ids = [*blank, "0", "0", "null1", "--", "x\u2014y"]
    f.write_bytes(("id;tel\r\n" + "".join(f"{v};{PHONES[i]}\r\n"
                                          for i, v in enumerate(ids))).encode("utf-8-sig"))
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "--contact-id", "id", "--threshold", "1",
                                 "--max-numbers-per-contact", "2", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    contacts = report["input"]["contacts"]
    assert contacts["blank_ids"] == len(blank)
    assert contacts["contacts"] == len(blank) + 4  # "0" twice is one contact
    assert len(_annotated(out)) == len(ids)


# -- f79daf5: sheet rows numbered as Excel numbers them ----------------------------------
def _rewrite_sheet(book: Path, out: Path, change: Callable[[str], str]) -> Path:
    """``book`` with its first sheet's XML passed through ``change`` (a writer that
    omits attributes, as some do)."""
    import zipfile

    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = change(data.decode()).encode()
            z.writestr(name, data)
    return out


@pytest.mark.parametrize("header_row", [None, 3])
def test_a_row_without_r_takes_its_first_cells_row(tmp_path: Path,
                                                    header_row: int | None) -> None:
    """A ``<row>`` without ``r`` whose cells say ``A3``/``B3`` was numbered previous
    row + 1 (row 2 after a title in row 1 and a blank row 2): the read line said
    'header on row 2' where Excel shows 3, and ``--header-row 3`` (Excel's number) took
    the first contact for the header. A row with no reference at all still follows
    the previous one."""
    import re

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Export CRM"])
    sheet.append([])
    sheet.append(["Nom", "Portable"])
    for i in range(3):
        sheet.append([f"n{i}", PHONES[i]])
    book.save(tmp_path / "base.xlsx")
    f = _rewrite_sheet(tmp_path / "base.xlsx", tmp_path / "norow.xlsx",
                       lambda x: re.sub(r'<row r="\d+"', "<row", x))
    args = [str(f), "--threshold", "1"]
    result, report = check_json(args + ([] if header_row is None
                                        else ["--header-row", str(header_row)]))
    assert result.exit_code == 0, result.stderr
    assert report["input"]["header_row"] == 3 and report["input"]["column"] == "Portable"
    assert report["counts"]["rows"] == 3
    bare = _rewrite_sheet(tmp_path / "base.xlsx", tmp_path / "bare.xlsx",
                          lambda x: re.sub(r' r="[A-Z]*\d+"', "", x))
    result, report = check_json([str(bare), "--threshold", "1"])
    assert report["input"]["header_row"] == 2 and report["counts"]["rows"] == 3


def test_a_profiles_header_row_is_ignored_for_a_parquet_or_ndjson_base(
        tmp_path: Path) -> None:
    """A profile serves bases of several formats: its ``header-row`` / ``skip-rows`` on
    a Parquet or NDJSON base is noted and ignored, as its other reading options are;
    f79daf5 passed it to the reader, which stopped the run (exit 2, '--skip-rows /
    --header-row apply to CSV, XLSX and XLS files'). Typed, it is still refused,
    naming the option and the file."""
    f = _parquet(tmp_path / "base.parquet", {"tel": ["0612345678", "0687654321"]})
    nd = tmp_path / "base.ndjson"
    nd.write_text('{"tel": "0612345678"}\n', encoding="utf-8")
    for key in ("header-row = 3", "skip-rows = 2"):
        cfg = tmp_path / "rcsqualify.toml"
        cfg.write_text(f"[profiles.crm]\n{key}\n", encoding="utf-8")
        for base in (f, nd):
            said = run_cli(["check", str(base), "--config", str(cfg), "--profile", "crm",
                            "--threshold", "1"])
            assert said.exit_code == 0, said.stderr
            assert f"sets {key.split(' ')[0]}, which does not apply to" in said.stderr
    said = run_cli(["check", str(f), "--header-row", "2"])
    assert said.exit_code == 2
    assert f"--header-row does not apply to {f}" in said.stderr, said.stderr
