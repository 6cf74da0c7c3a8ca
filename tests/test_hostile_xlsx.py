"""Hostile XLSX workbooks (issue #23 items 6, 7, 20): real zip files built here, read
with the bounds of ``rcsqualify/contacts/xlsx.py``."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.helpers import check_json, run_cli
from tests.test_bad_input import _assert_clean_error

PHONE = "0607123456"
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RELS_NS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _workbook(path: Path, sheet: Iterable[bytes], *, shared: bytes | None = None,
              styles: bytes | None = None) -> Path:
    """A minimal valid XLSX whose sheet XML is the concatenation of ``sheet`` (streamed
    into the archive, so a bomb is built without holding it in memory)."""
    rels = [f'<Relationship Id="rId1" Type="{_R}/worksheet" Target="worksheets/sheet1.xml"/>']
    if shared is not None:
        rels.append(f'<Relationship Id="rId2" Type="{_R}/sharedStrings" '
                    'Target="sharedStrings.xml"/>')
    if styles is not None:
        rels.append(f'<Relationship Id="rId3" Type="{_R}/styles" Target="styles.xml"/>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("_rels/.rels", f'<Relationships {_RELS_NS}><Relationship Id="rId1" '
                    f'Type="{_R}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        zf.writestr("xl/workbook.xml", f'<workbook {_NS} xmlns:r="{_R}"><sheets>'
                    '<sheet name="Feuil1" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels",
                    f'<Relationships {_RELS_NS}>{"".join(rels)}</Relationships>')
        if shared is not None:
            zf.writestr("xl/sharedStrings.xml", shared)
        if styles is not None:
            zf.writestr("xl/styles.xml", styles)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            for part in sheet:
                fh.write(part)
    return path


def _sheet(rows: str, dimension: str = "A1:B2") -> list[bytes]:
    return [f'<worksheet {_NS}><dimension ref="{dimension}"/><sheetData>{rows}'
            '</sheetData></worksheet>'.encode()]


def _header_and_phone() -> str:
    return ('<row r="1"><c r="A1" t="inlineStr"><is><t>tel</t></is></c></row>'
            f'<row r="2"><c r="A2" t="inlineStr"><is><t>{PHONE}</t></is></c></row>')


def _bomb(head: bytes, size: int, tail: bytes) -> Iterable[bytes]:
    yield head
    chunk = b" " * (1 << 20)
    for _ in range(size >> 20):
        yield chunk
    yield tail


def _no_leftovers(tmp_path: Path) -> None:
    assert not list(tmp_path.rglob("*.part")), list(tmp_path.rglob("*"))


def test_an_inline_cell_bomb_stops_at_excels_cell_limit(tmp_path: Path) -> None:
    """64 MiB of spaces in one cell (about 65 KB zipped): before, the whole cell was
    built in memory (1 GiB: 23 GB RSS, then the OOM killer); now the read stops after
    32,767 characters with one line."""
    head = (f'<worksheet {_NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>tel'
            f'</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>').encode()
    f = _workbook(tmp_path / "bomb.xlsx", _bomb(head, 64 << 20, b"</t></is></c></row>"
                                               b"</sheetData></worksheet>"))
    assert f.stat().st_size < 1 << 20
    out = tmp_path / "out.csv"
    result = run_cli(["check", str(f), "-o", str(out)])
    _assert_clean_error(result, "cell A2", "32,767 characters")
    assert not out.exists()
    _no_leftovers(tmp_path)


def test_a_shared_string_bomb_and_a_markup_bomb_are_refused(tmp_path: Path) -> None:
    shared = (f'<sst {_NS}><si><t>tel</t></si><si><t>'.encode() + b"x" * 40_000
              + b"</t></si></sst>")
    f = _workbook(tmp_path / "s.xlsx", _sheet(
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>1</v></c></row>'), shared=shared)
    _assert_clean_error(run_cli(["check", str(f)]), "shared string 2", "32,767")
    # a tag that never ends: expat would buffer it whole
    head = f'<worksheet {_NS}><sheetData><row r="1"><c r="A1" s="'.encode()
    g = _workbook(tmp_path / "tag.xlsx", _bomb(head, 4 << 20, b'"/></row></sheetData>'
                                                             b"</worksheet>"))
    _assert_clean_error(run_cli(["check", str(g)]), "without markup")
    # entity expansion (billion laughs) needs a DTD, which OOXML never has
    dtd = (b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>'
           + f'<worksheet {_NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&a;'
             '</t></is></c></row></sheetData></worksheet>'.encode())
    h = _workbook(tmp_path / "dtd.xlsx", [dtd])
    _assert_clean_error(run_cli(["check", str(h)]), "document type declaration")


def test_a_part_over_the_decompressed_bound_is_refused(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """The per-part bound (1 GiB) is read from the archive's directory, and zipfile
    inflates no more than that: shown with the bound lowered to 1 MiB."""
    from rcsqualify.contacts import xlsx

    monkeypatch.setattr(xlsx, "MAX_PART_BYTES", 1 << 20)
    cells = "".join(f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>{PHONE}</t></is></c>'
                    "</row>" for i in range(1, 30_000))
    f = _workbook(tmp_path / "big.xlsx", _sheet(cells))
    _assert_clean_error(run_cli(["check", str(f)]), "xl/worksheets/sheet1.xml",
                        "1,048,576 bytes")


@pytest.mark.parametrize("dimension", ["A1:XFD1048576", "A1:XFD2"])
def test_a_lying_dimension_is_ignored(tmp_path: Path, dimension: str) -> None:
    """Two real cells and a dimension claiming the whole sheet: read in moments, and
    the output has the input's one column, not 16,384."""
    f = _workbook(tmp_path / "dim.xlsx", _sheet(_header_and_phone(), dimension))
    out = tmp_path / "out.csv"
    result, report = check_json([str(f), "-o", str(out), "--threshold", "1"])
    assert result.exit_code == 0, result.stderr
    assert report["input"]["rows"] == 1
    header = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.split(";")[:2] == ['"tel"', '"msisdn_e164"'], header[:200]


def test_a_cell_beyond_column_xfd_is_refused(tmp_path: Path) -> None:
    f = _workbook(tmp_path / "wide.xlsx", _sheet(
        _header_and_phone() + '<row r="3"><c r="XFE3"><v>1</v></c></row>'))
    _assert_clean_error(run_cli(["check", str(f)]), "XFE3", "column XFD")


def test_formula_cells_without_a_saved_result_are_counted_and_said(tmp_path: Path) -> None:
    """A workbook written by a tool that does not compute holds formulas and no
    results: read as missing, counted in the report and named in the read line."""
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>tel</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>nom</t></is></c></row>'
            f'<row r="2"><c r="A2" t="inlineStr"><is><t>{PHONE}</t></is></c>'
            '<c r="B2"><f>CONCAT("a","b")</f></c></row>'
            '<row r="3"><c r="A3"><f>"0607123457"</f></c><c r="B3" t="str"><f>1</f>'
            '<v>x</v></c></row>')
    f = _workbook(tmp_path / "f.xlsx", _sheet(rows))
    _result, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["formulas_without_value"] == 2
    assert report["input"]["rows"] == 2
    verbose = run_cli(["check", str(f), "--threshold", "1"])
    assert "2 formula cells without a saved result" in verbose.stderr, verbose.stderr


def test_streamed_values_match_what_openpyxl_wrote(tmp_path: Path) -> None:
    """Shared strings, rich text, numbers, booleans, errors and dates (1900 and 1904
    calendars) read as before the streaming reader."""
    import datetime

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["tel", "n", "f", "b", "d", "dt", "e"])
    ws.append([PHONE, 12, 2.5, True, datetime.date(2025, 3, 1),
               datetime.datetime(2025, 3, 1, 14, 30), "#N/A"])
    ws["G2"].data_type = "e"
    f = tmp_path / "v.xlsx"
    wb.save(f)
    from rcsqualify.contacts.xlsx import read_xlsx

    rows = list(read_xlsx(f, None, "v.xlsx").rows)
    assert rows[1] == (PHONE, 12, 2.5, True, "2025-03-01", "2025-03-01 14:30:00", "#N/A")
    wb.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    wb.save(f)
    assert list(read_xlsx(f, None, "v.xlsx").rows)[1][4] == "2025-03-01"


def test_cells_without_a_reference_follow_the_cell_before_even_an_empty_one(
        tmp_path: Path) -> None:
    """``r`` is optional on a cell (ECMA-376 §18.3.1.4): a cell without it is the
    column after the previous cell, empty or not. Before, an empty ``<c/>`` did not
    advance the column, so the phone after it slid under the previous header (read
    from column B, not C) and the empty column vanished from the output; and a row of
    empty cells never reached the column XFD bound."""
    rows = ('<row><c t="inlineStr"><is><t>nom</t></is></c><c t="inlineStr"><is><t>mail'
            '</t></is></c><c t="inlineStr"><is><t>tel</t></is></c></row>'
            f'<row><c t="inlineStr"><is><t>bob</t></is></c><c/><c t="inlineStr"><is><t>'
            f'{PHONE}</t></is></c></row>')
    f = _workbook(tmp_path / "gap.xlsx", _sheet(rows))
    from rcsqualify.contacts.xlsx import read_xlsx

    assert list(read_xlsx(f, None, "gap.xlsx").rows)[1] == ("bob", None, PHONE)
    wide = _workbook(tmp_path / "wide.xlsx", _sheet(
        _header_and_phone() + "<row>" + "<c/>" * 16_384 + "<c><v>1</v></c></row>"))
    _assert_clean_error(run_cli(["check", str(wide)]), "column XFD")
