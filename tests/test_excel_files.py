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
    assert "1 short rows" in text and "1 long rows" in text


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
