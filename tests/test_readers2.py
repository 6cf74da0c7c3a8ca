"""Session 8 input defects found by a new user, on real files: a title row above a
header whose labels carry an index or a year (``Adresse 2``, ``CA 2026``); a quote left
open in a CSV (malformed quoting, read as text: no row lost)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from rcsqualify.contacts.columns import reads_as_header
from rcsqualify.contacts.source import is_title
from tests.helpers import check_json, run_cli

PHONE = "06 12 34 56 78"

#: headers of French CRM / accounting exports where a label or two carry a number
NUMBERED_HEADERS = [
    ["Nom", "Téléphone", "Adresse 2", "Ville"],
    ["Raison sociale", "Mobile", "CA 2026", "Code postal"],
    ["Civilité", "Nom", "Prénom", "Tel 1", "Tel 2", "Email"],
    ["Nom", "Mobile 2", "Adresse 1", "Ville"],
    ["N° client", "Nom", "Portable", "Montant 2025 (€)", "Ville", "Pays"],
]


@pytest.mark.parametrize("header", NUMBERED_HEADERS)
def test_a_title_above_a_header_with_numbered_labels_is_skipped_csv(
        tmp_path: Path, header: list[str]) -> None:
    f = tmp_path / "x.csv"
    data = ["Dupont" if "Nom" in h or "Raison" in h else "x" for h in header]
    phone = next(i for i, h in enumerate(header)
                 if h in ("Téléphone", "Mobile", "Tel 1", "Mobile 2", "Portable"))
    data[phone] = PHONE
    f.write_text("Export clients décembre\n" + ";".join(header) + "\n"
                 + ";".join(data) + "\n", encoding="utf-8")
    result, report = check_json([str(f), "--threshold", "1"])
    assert result.exit_code in (0, 1), result.stderr
    inp = report["input"]
    assert inp["title_row"] is True and inp["header"] is True and inp["header_row"] == 2
    assert report["counts"]["rows"] == 1 and inp["column"] == header[phone]


def test_the_testers_csv(tmp_path: Path) -> None:
    """Exit 2 'no phone column found … columns are: Titre' before."""
    f = tmp_path / "x.csv"
    f.write_text("Titre\nNom;Téléphone;Adresse 2;Ville\nDupont;06 12 34 56 78;;Paris\n",
                 encoding="utf-8")
    result = run_cli(["check", str(f), "-o", "-", "-q", "--threshold", "1"])
    assert result.exit_code in (0, 1), result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith('"Nom";"Téléphone";"Adresse 2";"Ville"')
    assert len(lines) == 2 and lines[1].startswith('"Dupont";"06 12 34 56 78"')


@pytest.mark.parametrize("header", [*NUMBERED_HEADERS[:2], ["Nom", "Mobile", "Tel 2", "Ville"]])
def test_a_title_above_a_header_with_numbered_labels_is_skipped_xlsx(
        tmp_path: Path, header: list[str]) -> None:
    """Before: 'no header row', the header read as a contact, column 'column_2'."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Liste des clients au 01/12/2026"])
    ws.append(header)
    ws.append(["Dupont", "0612345678", 1200] + ["x"] * (len(header) - 3))
    f = tmp_path / "x.xlsx"
    wb.save(f)
    result, report = check_json([str(f), "--threshold", "1"])
    inp = report["input"]
    assert inp["title_row"] is True and inp["header"] is True, result.stderr
    assert report["counts"]["rows"] == 1 and inp["column"] == header[1]


@pytest.mark.parametrize("row", [
    ["Dupont", "0612345678", "12 rue de la Paix", "Paris"],  # a contact
    ["Tel 1", "0612345678", "Adresse 2"],  # a phone number: data
    ["Mobile", "1 250,00", "Ville"],  # an amount
    ["Mobile", "12/03/2026", "Ville"],  # a date
    ["Mobile", "Adresse 2", "CA 2026", "Tel 2"],  # numbered labels are most of the row
    ["Mobile", "Code 75001", "Ville"],  # a postcode: not an index nor a year
    ["Nom", "Ville"],  # no phone header
    ["Mobile"],  # one label
])
def test_rows_that_do_not_read_as_a_header(row: list[str]) -> None:
    assert not reads_as_header(row)


@pytest.mark.parametrize("row", [*NUMBERED_HEADERS, ["Nom", "Tel 2", "Ville"]])
def test_rows_that_read_as_a_header(row: list[str]) -> None:
    assert reads_as_header(row)


def test_a_headerless_file_whose_first_row_is_data_is_still_data(tmp_path: Path) -> None:
    """Contacts from the first row, one of them with a numbered-looking address: read
    as data, as before; a single cell above contacts is no title either."""
    f = tmp_path / "d.csv"
    f.write_text("Martin;0612345678;Adresse 2\nDurand;0601012345;Lyon\n", encoding="utf-8")
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["title_row"] is False and report["input"]["header"] is False
    assert report["counts"]["rows"] == 2
    assert not is_title([["Dupont"], ["Martin", "0612345678", "Adresse 2"]])
    assert not is_title([["Dupont"], ["Martin", "Mobile 2", "Tel 1"]])


# -- a quote left open ------------------------------------------------------------------
def _rows_out(f: Path, *args: str) -> tuple[list[str], str]:
    result = run_cli(["check", str(f), "-o", "-", "--threshold", "1", *args])
    assert result.exit_code in (0, 1), result.stderr
    return result.stdout.splitlines(), result.stderr


def test_the_testers_unclosed_quote(tmp_path: Path) -> None:
    """Before: 2 rows, B, C and D in one cell, the read line saying '1 short rows'."""
    f = tmp_path / "q.csv"
    f.write_text('Nom;Tel\nA;0612345678\n"B;0612345679\nC;0612345670\nD;0612345671\n',
                 encoding="utf-8")
    rows, stderr = _rows_out(f)
    assert len(rows) == 5, rows
    assert rows[2].startswith('"""B";"0612345679";"+33612345679"')  # the quote kept
    assert rows[3].startswith('"C";"0612345670"') and rows[4].startswith('"D";"0612345671"')
    assert "1 malformed quote (a quote never closed, line 3): read as text" in stderr
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["malformed_quotes"] == {"count": 1, "lines": [3]}
    assert report["counts"]["rows"] == 4 and report["input"]["short_rows"] == 0


@pytest.mark.parametrize(("encoding", "delim"), [("cp1252", ","), ("utf-8", ","),
                                                 ("cp1252", ";")])
def test_a_quote_open_in_the_last_column_to_the_end(tmp_path: Path, encoding: str,
                                                    delim: str) -> None:
    """Same width as the header: Arrow read the rest of the file into one cell with no
    error at all (an odd count of quotes sends the file to the csv module's checks)."""
    lines = [["Nom", "Tél", "Ville"], ["Élodie", "0612345678", "Paris"],
             ["Bérénice", "0612345679", '"Lyon'], ["Cécile", "0612345670", "Nîmes"],
             ["Dédé", "0612345671", "Sète"]]
    f = tmp_path / "q.csv"
    f.write_bytes("\r\n".join(delim.join(r) for r in lines).encode(encoding) + b"\r\n")
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["input"]["encoding"] == encoding
    assert report["counts"]["rows"] == 4
    assert report["input"]["malformed_quotes"] == {"count": 1, "lines": [3]}
    rows, _ = _rows_out(f)
    assert [r.split(delim)[0] for r in rows[1:]] == ['"Élodie"', '"Bérénice"', '"Cécile"',
                                                   '"Dédé"']
    assert rows[2].split(delim)[2] == '"""Lyon"'


def test_a_stray_quote_closed_rows_later_by_another(tmp_path: Path) -> None:
    """Two stray quotes (an even count): the cell between them holds whole rows, each
    with the header's delimiters: read as rows again."""
    f = tmp_path / "q.csv"
    f.write_text('Nom;Tel;Ville\nA;0612345678;"Paris\nB;0612345679;Lyon\n'
                 'C;0612345670;Nice\nD;0612345671;"Metz\nE;0612345672;Brest\n',
                 encoding="utf-8")
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["counts"]["rows"] == 5
    assert report["input"]["malformed_quotes"]["lines"] == [2, 5]


def test_a_quote_open_for_more_than_the_bound_of_lines(tmp_path: Path) -> None:
    """A stray quote in a one-column-wide cell run (no delimiter to tell rows): cut
    after MAX_QUOTED_LINES lines, every row read."""
    from rcsqualify.contacts.delimited import MAX_QUOTED_LINES

    n = MAX_QUOTED_LINES * 3
    body = "".join(f"06{12000000 + i}\n" for i in range(n))
    f = tmp_path / "q.csv"
    f.write_text('Tel\n"0611111111\n' + body + 'fin"\n0699999999\n', encoding="utf-8")
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["counts"]["rows"] == n + 3
    assert report["input"]["malformed_quotes"] == {"count": 1, "lines": [2]}


def test_legitimate_multi_line_cells_stay_one_cell(tmp_path: Path) -> None:
    """An address over three lines, a comment holding the delimiter, a last row whose
    cell spans lines and is closed: no malformed quote, one row each."""
    f = tmp_path / "m.csv"
    f.write_text('Nom;Tel;Adresse\nA;0612345678;"12 rue X\nBât. B\n75001 Paris"\n'
                 'B;0612345679;"voir; appeler\nle soir"\nC;0612345670;"fin\nici"\n',
                 encoding="utf-8")
    _, report = check_json([str(f), "--threshold", "1"])
    assert report["counts"]["rows"] == 3
    assert report["input"]["malformed_quotes"] == {"count": 0, "lines": []}
    rows, stderr = _rows_out(f)
    assert "malformed" not in stderr and '"12 rue X\nBât. B\n75001 Paris"' in "\n".join(rows)
