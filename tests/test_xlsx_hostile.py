"""``-o annotated.xlsx`` attacked as a hostile input file would (issue #26 item 5 review).

Every workbook is read twice: by openpyxl, and by a strict XML parse of the parts
(lxml, no entities), whose text cells are unescaped as Excel does (``_xHHHH_``); each
cell is compared with the annotated CSV of the same input, which keeps every cell as
read (the oracle of "nothing lost, nothing altered"), under the types rule of
docs/cookbook/excel.md."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from tests.helpers import run_cli

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _excel_text(xml_text: str) -> str:
    """A cell's XML text as Excel shows it: ``_xHHHH_`` escapes decoded left to right."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), xml_text)


def _strict_cells(path: Path) -> list[list[tuple[str, str]]]:
    """The sheet's rows as [(cell type, its text as Excel reads it)], by a strict parse
    (every part must parse; no entity is resolved; no formula anywhere)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith((".xml", ".rels")):
                etree.fromstring(archive.read(name), parser)
        root = etree.fromstring(archive.read("xl/worksheets/sheet1.xml"), parser)
    assert not root.findall(f".//{_NS}f"), "a formula in the sheet"
    rows: list[list[tuple[str, str]]] = []
    for number, row in enumerate(root.iter(f"{_NS}row"), start=1):
        assert row.get("r") == str(number)
        cells: list[tuple[str, str]] = []
        for cell in row.iter(f"{_NS}c"):
            col = re.match(r"[A-Z]+", cell.get("r", "")).group(0)  # type: ignore[union-attr]
            while len(cells) < openpyxl.utils.column_index_from_string(col) - 1:
                cells.append(("", ""))
            kind = cell.get("t", "n")
            if kind == "inlineStr":
                text = "".join(t.text or "" for t in cell.iter(f"{_NS}t"))
                cells.append(("s", _excel_text(text)))
            else:
                cells.append((kind, cell.findtext(f"{_NS}v") or ""))
        rows.append(cells)
    return rows


def _outputs(tmp_path: Path, source: Path, *extra: str
             ) -> tuple[list[list[tuple[str, str]]], list[list[str]], str]:
    """(the .xlsx cells, the annotated CSV's rows, the .xlsx run's stderr)."""
    book, text = tmp_path / "annotated.xlsx", tmp_path / "annotated.csv"
    ran = run_cli(["check", str(source), "-o", str(book), "--threshold", "1", *extra])
    assert ran.exit_code == 0, ran.stderr
    assert run_cli(["check", str(source), "-o", str(text), "-q", "--threshold", "1",
                    "--csv-dialect", "standard", "--no-csv-escape", *extra]).exit_code == 0
    with text.open(encoding="utf-8", newline="") as fh:
        lines = list(csv.reader(fh))
    return _strict_cells(book), lines, ran.stderr


HOSTILE = ["a\r\nb", "c\rd", "e\nf", "<&>]]>\"'", "&amp; &#65; &lt;", "=1+1",
           "=HYPERLINK(\"http://x\",\"y\")", "+33 6 12", "-1+2", "@SUM(A1)",
           "\t lead tab ", "\u2028sep\u2029", "\U0001F600 émoji", "_x000D_ literal",
           "<![CDATA[x]]>", "<?xml version='1.0'?>", "<!DOCTYPE x [<!ENTITY e 'boom'>]>&e;",
           "0612345678", "123456789012345678901", "1e308", "-0", "NaN", "inf", "TRUE",
           "2024-01-02T10:00:00+02:00"]


def test_hostile_text_comes_back_as_it_was_never_a_formula(tmp_path: Path) -> None:
    """Text with XML's specials, CR and CRLF (an XML parser reads a literal CR as LF:
    the CR was lost), leading = + - @, Excel's own escape, markup, emoji; header names
    with quotes and markup: each cell of the strict parse is the CSV's cell, a string
    (inline), and openpyxl sees strings too."""
    source = tmp_path / "base.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Tel", 'He said "hi"', "<h&>]]>", "=cmd|' /C calc'!A0", "a\r\nb"])
        for i, value in enumerate(HOSTILE):
            out.writerow([f"06123456{i:02d}", value, value, value, value])
    cells, lines, _ = _outputs(tmp_path, source)
    assert len(cells) == len(lines) == len(HOSTILE) + 1
    for got, want in zip(cells, lines, strict=True):
        assert [v for _, v in got[:5]] == want[:5]
        assert {k for k, _ in got[:5]} == {"s"}
    assert [c[1] for c in cells[1:]][:3] == [("s", "a\r\nb"), ("s", "c\rd"), ("s", "e\nf")]
    sheet = openpyxl.load_workbook(tmp_path / "annotated.xlsx").worksheets[0]
    for row in sheet.iter_rows(min_col=1, max_col=5):
        for cell in row:
            assert cell.data_type == "s", cell.coordinate


def test_a_cut_cell_and_removed_characters_are_counted_the_rest_kept(tmp_path: Path) -> None:
    """Over 32,767 characters: cut at 32,767 as Excel counts them, a character past
    U+FFFF two (cut at 32,767 code points, Excel "repaired" the workbook), never half
    of one; C0 controls, U+FFFE, U+FFFF removed; every other cell of the row kept."""
    long = "é" * 32_760 + "\U0001F600" * 20
    source = tmp_path / "base.csv"
    source.write_text("Tel;Note;Autre\n"
                      f"0612345678;{long};x\n0612345679;a\x01b\ufffec\uffffd;y\n",
                      encoding="utf-8")
    cells, lines, stderr = _outputs(tmp_path, source)
    assert "2 cells of annotated.xlsx held control characters" in stderr
    assert cells[1][1] == ("s", "é" * 32_760 + "\U0001F600" * 3) and cells[1][2] == ("s", "x")
    assert len(cells[1][1][1].encode("utf-16-le")) == 2 * 32_766
    assert cells[2][1] == ("s", "abcd") and cells[2][2] == ("s", "y")
    assert lines[1][1] == long


def test_decimals_a_double_cannot_hold_keep_the_column_text(tmp_path: Path) -> None:
    """15 digits before the point passed the number rule whatever followed:
    ``123456789012345.678`` became 123456789012345.67 (Excel shows 123456789012346).
    A column is numbers only when each cell is exact as a double: at most 15
    significant digits, or a double's own spelling (a Parquet float)."""
    source = tmp_path / "base.csv"
    source.write_text("Tel,Id,Prix,Float,Zeros,Big\n"
                      "0612345678,123456789012345.678,19.99,0.30000000000000004,0.000001234,"
                      "9007199254740993\n"
                      "0612345679,1,-0,1e99,0,12345678901234567890\n", encoding="utf-8")
    cells, lines, _ = _outputs(tmp_path, source)
    assert [c[1] for c in cells[1:]] == [("s", "123456789012345.678"), ("s", "1")]
    assert [c[2] for c in cells[1:]] == [("n", "19.99"), ("n", "-0")]
    assert [c[3] for c in cells[1:]] == [("n", "0.30000000000000004"), ("n", "1e99")]
    assert [c[4] for c in cells[1:]] == [("n", "0.000001234"), ("n", "0")]
    assert [c[5] for c in cells[1:]] == [("s", "9007199254740993"),
                                         ("s", "12345678901234567890")]
    for got, want in zip(cells[1:], lines[1:], strict=True):  # every number is the CSV's exactly
        for (kind, value), text in zip(got[1:6], want[1:6], strict=True):
            assert value == text or (kind == "n" and float(value) == float(text))
    sheet = openpyxl.load_workbook(tmp_path / "annotated.xlsx").worksheets[0]
    assert sheet["B2"].value == "123456789012345.678" and sheet["C2"].value == 19.99


def test_exact_number_rule_cell_by_cell() -> None:
    import pyarrow as pa

    from rcsqualify.report.xlsx_output import _NUMBER_COMMA, _NUMBER_DOT, _exact_numbers

    cells = ["123456789012345.678", "1.2345678901234567", "0.30000000000000004",
             "0.000001234", "12", "x", None, "1e99", "123456789012345", "-0",
             "100000000000000.0", "1.50"]
    assert _exact_numbers(pa.array(cells, pa.string()), _NUMBER_DOT).to_pylist() == [
        False, True, True, True, True, False, False, True, True, True, False, True]
    assert _exact_numbers(pa.array(["12,5", "1,23456789012345678"], pa.string()),
                          _NUMBER_COMMA).to_pylist() == [True, False]


def test_a_cp1252_export_reads_the_same_in_both_outputs(tmp_path: Path) -> None:
    """A cp1252 ';' export (accents, €, œ, a CRLF inside a quoted cell): the workbook's
    text is the annotated CSV's, character for character."""
    source = tmp_path / "export.csv"
    source.write_bytes("Nom;Tél;Ville\r\n".encode("cp1252")
                       + "Hélène œuvre;0612345678;\"Orléans\r\n€ 5\"\r\n".encode("cp1252")
                       + "Noël;0612345679;=1+1\r\n".encode("cp1252"))
    cells, lines, _ = _outputs(tmp_path, source)
    assert cells[1][2] == ("s", "Orléans\r\n€ 5")
    for got, want in zip(cells, lines, strict=True):
        assert [v for _, v in got[:3]] == want[:3]


def test_header_names_duplicated_empty_long_or_path_like_stay_cell_text(
        tmp_path: Path) -> None:
    """Header names are cell text only: duplicated, empty, 300 characters, a path or a
    parent reference never name a file, a sheet or a zip member."""
    source = tmp_path / "base.csv"
    names = ["Tel", "Nom", "Nom", "", "H" * 300, "../../escape.xlsx", "/tmp/x", "xl/evil.xml"]
    source.write_text(",".join(names) + "\n0612345678,a,b,c,d,e,f,g\n", encoding="utf-8")
    cells, lines, _ = _outputs(tmp_path, source)
    assert [v for _, v in cells[0][:8]] == lines[0][:8]
    assert [v for _, v in cells[0][:8]][5:] == names[5:] and cells[0][4][1] == "H" * 300
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "annotated.csv", "annotated.xlsx", "base.csv"]
    with zipfile.ZipFile(tmp_path / "annotated.xlsx") as archive:
        assert "xl/evil.xml" not in archive.namelist()
        assert all(".." not in n and not n.startswith("/") for n in archive.namelist())
    assert openpyxl.load_workbook(tmp_path / "annotated.xlsx").sheetnames == ["rcsqualify"]


@pytest.mark.parametrize("signal", [KeyboardInterrupt, OSError])
def test_an_interrupted_write_leaves_the_previous_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signal: type[BaseException]) -> None:
    """Ctrl-C (or a full disk) after some rows are staged: the previous workbook is
    intact, no half file and no temporary is left beside it."""
    from rcsqualify.report import xlsx_output

    source = tmp_path / "base.csv"
    source.write_text("Tel,Nom\n" + "".join(f"06123456{i:02d},n{i}\n" for i in range(50)),
                      encoding="utf-8")
    out = tmp_path / "annotated.xlsx"
    out.write_bytes(b"previous")
    render = xlsx_output._RowsXml.render
    calls = []

    def failing(self: object, first_row: int, columns: list) -> object:  # type: ignore[type-arg]
        calls.append(first_row)
        if len(calls) == 2:  # the header is staged, the rows are not
            raise signal()
        return render(self, first_row, columns)  # type: ignore[arg-type]

    monkeypatch.setattr(xlsx_output._RowsXml, "render", failing)
    ran = run_cli(["check", str(source), "-o", str(out), "-q", "--threshold", "1"])
    assert ran.exit_code in (2, 130), ran.stderr
    assert "Traceback" not in ran.stderr
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annotated.xlsx", "base.csv"]
    assert len(calls) == 2


def test_sheet_types_kept_with_hostile_values(tmp_path: Path) -> None:
    """An XLSX input's numbers (past 2^53, 1e308, -1e-300, -0), booleans, dates (before
    1900-03-01: text), date-times, a mixed column, text that looks like a formula or a
    number: each cell written as the sheet held it."""
    import datetime as dt

    source = tmp_path / "in.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Tel", "Big", "F", "B", "D", "DT", "Mixed", "Txt"])
    sheet.append(["0612345678", 2**60 + 1, 1e308, True, dt.date(1900, 2, 28),
                  dt.datetime(2024, 1, 2, 3, 4, 5), 5, "0612"])
    sheet.append(["0612345679", -(2**53), -1e-300, False, dt.date(1900, 3, 1),
                  dt.datetime(9999, 12, 31, 23, 59, 59), "five", "@x"])
    sheet.append([612345670, -0.0, 0.1 + 0.2, None, None, None, dt.date(2020, 1, 1),
                  "+33 6"])
    sheet["H3"].data_type = "s"
    book.save(source)
    cells, _, _ = _outputs(tmp_path, source)
    got = openpyxl.load_workbook(tmp_path / "annotated.xlsx").worksheets[0]
    rows = list(got.iter_rows(min_row=2, max_col=8, values_only=True))
    assert [r[0] for r in rows] == ["0612345678", "0612345679", "612345670"]
    assert [r[1] for r in rows] == [2**60 + 1, -(2**53), 0] or [r[1] for r in rows] == [
        float(2**60 + 1), -(2**53), 0]
    assert [r[2] for r in rows] == [1e308, -1e-300, 0.3]  # openpyxl stored 0.3
    assert [r[3] for r in rows] == [True, False, None]
    assert [r[4] for r in rows] == ["1900-02-28", dt.datetime(1900, 3, 1), None]
    assert [r[5] for r in rows] == [dt.datetime(2024, 1, 2, 3, 4, 5),
                                    dt.datetime(9999, 12, 31, 23, 59, 59), None]
    assert [r[6] for r in rows] == [5, "five", dt.datetime(2020, 1, 1)]
    assert [r[7] for r in rows] == ["0612", "@x", "+33 6"]
    assert [c[7][0] for c in cells[1:]] == ["s", "s", "s"]


def test_a_lone_surrogate_escaped_in_ndjson_is_one_replacement_character(
        tmp_path: Path) -> None:
    """JSON lets ``\\ud800`` stand alone; Unicode has no UTF-8 for it: every output
    stopped the run on an unexpected UnicodeEncodeError. It becomes U+FFFD (in a key,
    a value, a list), a pair stays the one character it is."""
    source = tmp_path / "base.ndjson"
    source.write_text(
        '{"Tel": "0612345678", "Note": "a\\ud800b", "N": 1e400, "L": ["\\udfff"]}\n'
        '{"Tel": "0612345679", "Note": "\\ud83d\\ude00", "N": 2, "L": []}\n'
        '{"Tel": "0612345670", "K\\udc00": "x"}\n', encoding="utf-8")
    cells, lines, _ = _outputs(tmp_path, source)
    assert lines[0][:5] == ["Tel", "Note", "N", "L", "K\ufffd"]
    assert lines[1][:4] == ["0612345678", "a\ufffdb", "1e400", '["\ufffd"]']
    assert lines[2][1] == "\U0001F600" and lines[3][4] == "x"
    for got, want in zip(cells, lines, strict=True):
        assert [v for _, v in got[:5]] == want[:5]


def test_a_parquet_string_that_is_no_utf8_never_breaks_the_outputs(tmp_path: Path) -> None:
    """Arrow does not check a Parquet file's strings: bytes that are no UTF-8 went into
    the sheet's XML (a workbook no XML parser, nor Excel, reads) and into the CSV. They
    read as U+FFFD, the rest of the cell and of the row kept."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    def strings(parts: list[bytes]) -> pa.Array:
        offsets = np.cumsum([0] + [len(p) for p in parts]).astype(np.int32)
        return pa.Array.from_buffers(pa.string(), len(parts), [
            None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(parts))])

    source = tmp_path / "base.parquet"
    pq.write_table(pa.table({"Tel": strings([b"0612345678", b"0612345679"]),
                             "Note": strings([b"a\xed\xa0\x80b\xff", "Été".encode()])}),
                   source)
    cells, lines, _ = _outputs(tmp_path, source)
    assert lines[1][1] == "a\ufffd\ufffd\ufffdb\ufffd" and lines[2][1] == "Été"
    for got, want in zip(cells, lines, strict=True):
        assert [v for _, v in got[:2]] == want[:2]


def test_split_xlsx_lists_escape_excels_escape_and_cut_long_cells(tmp_path: Path) -> None:
    """The ``--split-xlsx`` lists (openpyxl, cell by cell) wrote ``_x0041_`` as it is
    (Excel shows ``A``) and cells past 32,767 characters uncut: escaped, cut and counted
    now; CR, markup and formulas come back as text."""
    long = "x" * 40_000
    source = tmp_path / "base.csv"
    with source.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["Tel", "Note"])
        for i, value in enumerate(["_x0041_", long, "a\r\nb", "=1+1", "<&>", "b\x01"]):
            out.writerow([f"06123456{i:02d}", value])
    lists = tmp_path / "lists"
    ran = run_cli(["check", str(source), "--split-dir", str(lists), "--split-xlsx",
                   "--threshold", "1"])
    assert ran.exit_code == 0, ran.stderr
    assert "2 cells of the .xlsx lists held control characters" in ran.stderr
    notes = [row[1] for name in sorted(lists.glob("*.xlsx"))
             for row in _strict_cells(name)[1:]]
    assert sorted(notes) == sorted([("s", "_x0041_"), ("s", long[:32_767]), ("s", "a\r\nb"),
                                    ("s", "=1+1"), ("s", "<&>"), ("s", "b")])


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_a_time_of_day_cell_stays_a_time(tmp_path: Path, suffix: str) -> None:
    """A time of day alone (``12:30`` in a time-formatted cell) came out as the number
    0.5208333333333334 from an XLSX (its format lost) and as the text
    ``1899-12-31 12:30:00`` from an XLS: both readers give ``12:30:00`` now, and the
    workbook holds a time (``hh:mm:ss``); a date-time's date is kept beside it."""
    import datetime as dt

    rows: list[list[object]] = [["Tel", "Heure", "Quand"],
                                ["0612345678", dt.time(12, 30), dt.datetime(2024, 1, 2, 3, 4)],
                                ["0612345679", dt.time(0, 0, 1), None]]
    source = tmp_path / f"in{suffix}"
    if suffix == ".xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        for row in rows:
            sheet.append(row)
        book.save(source)
    else:
        import xlwt

        xls = xlwt.Workbook(encoding="utf-8")
        ws = xls.add_sheet("S")
        styles = {dt.time: xlwt.easyxf(num_format_str="HH:MM:SS"),
                  dt.datetime: xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")}
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    style = styles.get(type(value))
                    ws.write(r, c, value, *(() if style is None else (style,)))
        xls.save(str(source))
    cells, lines, _ = _outputs(tmp_path, source)
    assert [r[1] for r in lines[1:]] == ["12:30:00", "00:00:01"]
    assert [c[1] for c in cells[1:]] == [("n", repr(12.5 / 24)), ("n", repr(1 / 86400))]
    got = openpyxl.load_workbook(tmp_path / "annotated.xlsx").worksheets[0]
    assert [got.cell(r, 2).value for r in (2, 3)] == [dt.time(12, 30), dt.time(0, 0, 1)]
    assert got.cell(2, 2).number_format == "hh:mm:ss"
    assert got.cell(2, 3).value == dt.datetime(2024, 1, 2, 3, 4)


def test_a_sheet_exactly_xfd_wide_is_written_one_extra_cell_past_it_refused(
        tmp_path: Path) -> None:
    """16,376 input columns and the 8 verdict columns fill a sheet to XFD: written. One
    long row adds the ``extra`` column, which only the read finds: refused in one line
    (exit 2), no workbook and no temporary left."""
    from rcsqualify.contacts import VERDICT_COLUMNS
    from rcsqualify.report.xlsx_output import XLSX_MAX_COLUMNS

    width = XLSX_MAX_COLUMNS - len(VERDICT_COLUMNS)
    header = "Tel," + ",".join(f"c{i}" for i in range(width - 1)) + "\n"
    row = "0612345678" + "," * (width - 1)
    source = tmp_path / "wide.csv"
    source.write_text(header + row + "\n" + row + "\n", encoding="utf-8")
    out = tmp_path / "annotated.xlsx"
    ran = run_cli(["check", str(source), "-o", str(out), "-q", "--threshold", "1"])
    assert ran.exit_code == 0, ran.stderr
    with zipfile.ZipFile(out) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:XFD3"/>' in xml and b'<c r="XFD1" t="inlineStr">' in xml
    out.unlink()
    source.write_text(header + row + ",x\n" + row + "\n", encoding="utf-8")
    ran = run_cli(["check", str(source), "-o", str(out), "-q", "--threshold", "1"])
    assert ran.exit_code == 2
    assert "16,385 columns are more than an Excel sheet holds" in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wide.csv"]


@pytest.mark.parametrize("name", ["annotated.xlsx", "annotated.csv"])
def test_an_output_that_is_a_directory_is_one_line_before_the_check(
        tmp_path: Path, name: str) -> None:
    """``-o annotated.xlsx`` naming a folder ended the run in 'unexpected
    IsADirectoryError' (the CSV: 'unexpected OSError') after the check: refused first,
    in one line, as a report option naming a folder is."""
    source = tmp_path / "base.csv"
    source.write_text("Tel\n0612345678\n", encoding="utf-8")
    (tmp_path / name).mkdir()
    ran = run_cli(["check", str(source), "-o", str(tmp_path / name), "-q"])
    assert ran.exit_code == 2
    assert ran.stderr.strip() == (f"rcsqualify: error: --output {tmp_path / name}: is a "
                                  "directory, give a file name")
    assert list((tmp_path / name).iterdir()) == []


def test_iso_date_cells_are_dates_a_time_zone_stays_text(tmp_path: Path) -> None:
    """``t="d"`` cells (ISO 8601: openpyxl's iso_dates, strict OOXML) were text in the
    workbook written: dates and date-times now, as serial ones; a time zone (no sheet
    holds one) or a value that is not ISO stays the text as written."""
    import datetime as dt

    source = tmp_path / "iso.xlsx"
    book = openpyxl.Workbook()
    book.iso_dates = True
    sheet = book.active
    assert sheet is not None
    sheet.append(["Tel", "D", "DT"])
    sheet.append(["0612345678", dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5)])
    sheet.append(["0612345679", dt.date(2024, 1, 3), dt.datetime(2024, 1, 2, 3, 4, 5)])
    book.save(source)
    with zipfile.ZipFile(source) as archive:
        parts = {n: archive.read(n) for n in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"]
    assert b't="d"><v>2024-01-02T03:04:05</v>' in xml
    parts["xl/worksheets/sheet1.xml"] = xml.replace(
        b"<v>2024-01-03</v>", b"<v>2024-01-03T10:00:00+02:00</v>").replace(
        b"<v>2024-01-02T03:04:05</v></c></row></sheetData>",
        b"<v>not a date</v></c></row></sheetData>")
    with zipfile.ZipFile(source, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    _, lines, _ = _outputs(tmp_path, source)
    assert [r[1:3] for r in lines[1:]] == [["2024-01-02", "2024-01-02 03:04:05"],
                                           ["2024-01-03T10:00:00+02:00", "not a date"]]
    got = openpyxl.load_workbook(tmp_path / "annotated.xlsx").worksheets[0]
    rows = list(got.iter_rows(min_row=2, min_col=2, max_col=3, values_only=True))
    assert rows == [(dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5)),
                    ("2024-01-03T10:00:00+02:00", "not a date")]


def test_a_workbooks_decimals_keep_their_dot_in_ndjson_and_parquet(tmp_path: Path) -> None:
    """The excel-fr CSV of a workbook writes a number cell's decimal comma for French
    Excel; NDJSON and Parquet outputs of that workbook got ``0,1`` too (cb50a5c)."""
    import pyarrow.parquet as pq

    source = tmp_path / "in.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Tel", "Montant"])
    sheet.append(["0612345678", 107.35])
    book.save(source)
    for name in ("o.ndjson", "o.parquet", "o.csv"):
        assert run_cli(["check", str(source), "-o", str(tmp_path / name), "-q",
                        "--threshold", "1"]).exit_code == 0
    assert '"Montant":"107.35"' in (tmp_path / "o.ndjson").read_text(encoding="utf-8")
    assert pq.read_table(tmp_path / "o.parquet").column("Montant").to_pylist() == ["107.35"]
    assert '"107,35"' in (tmp_path / "o.csv").read_text(encoding="utf-8-sig")
