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
