"""Issue #27 item 6: the nightly log says what changed. Numbers added and removed and
status moves by pair, computed from a snapshot of the previous run's statuses beside the
lists (keyed digests, no number in clear), logged by refresh and drawn by the HTML
trend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsqualify.report.html import format_html
from rcsqualify.report.movement import (
    SNAPSHOT,
    compare,
    read_snapshot,
    record_movement,
    snapshot_of,
)
from rcsqualify.verdict import REASON_STATUS, REASONS, STATUSES
from tests.conftest import SAMPLE, Emulator
from tests.helpers import check_json, contacts_file, frte_numbers, run_cli
from tests.test_metrics import _summary  # the sample's Summary from its JSON report

KEY = (0x0123456789ABCDEF, 0x0FEDCBA987654321)
#: one reason per status, as the pipeline records them
REASON_OF = {str(st_): next(i for i, r in enumerate(REASONS) if i and REASON_STATUS[r] == st_)
             for st_ in STATUSES}


def _snap(statuses: dict[int, str]) -> tuple[np.ndarray, np.ndarray]:
    numbers = np.array(sorted(statuses), dtype=np.int64)
    reasons = np.array([REASON_OF[statuses[n]] for n in numbers.tolist()], dtype=np.uint8)
    return numbers, reasons


def test_added_removed_and_moves_by_pair() -> None:
    before = {33607000001: "reachable", 33607000002: "not_rcs", 33607000003: "unverified",
              33607000004: "reachable"}
    after = {33607000001: "not_rcs", 33607000002: "not_rcs", 33607000005: "reachable",
             33607000004: "not_rcs", 33607000006: "invalid"}
    m = compare(snapshot_of(*_snap(before), KEY), snapshot_of(*_snap(after), KEY))
    assert (m.added, m.removed) == (2, 1)
    assert m.moves == [("reachable", "not_rcs", 2)]
    assert m.to_dict()["moves"] == [{"from": "reachable", "to": "not_rcs", "numbers": 2}]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.integers(33600000000, 33799999999), st.sampled_from(STATUSES),
                       max_size=60),
       st.dictionaries(st.integers(33600000000, 33799999999), st.sampled_from(STATUSES),
                       max_size=60))
def test_the_vectorized_comparison_is_the_plain_one(before: dict[int, str],
                                                    after: dict[int, str]) -> None:
    m = compare(snapshot_of(*_snap({k: str(v) for k, v in before.items()}), KEY),
                snapshot_of(*_snap({k: str(v) for k, v in after.items()}), KEY))
    assert m.added == len(after.keys() - before.keys())
    assert m.removed == len(before.keys() - after.keys())
    plain: dict[tuple[str, str], int] = {}
    for k in before.keys() & after.keys():
        if before[k] != after[k]:
            pair = (str(before[k]), str(after[k]))
            plain[pair] = plain.get(pair, 0) + 1
    assert {(a, b): n for a, b, n in m.moves} == plain


def test_the_snapshot_holds_no_number_in_clear_and_a_damaged_one_is_replaced(
        tmp_path: Path) -> None:
    numbers, reasons = _snap({33607123456: "reachable", 33612345678: "not_rcs"})
    assert record_movement(tmp_path, numbers, reasons) is None  # nothing to compare with
    raw = (tmp_path / SNAPSHOT).read_bytes()
    for n in numbers.tolist():
        assert str(n).encode() not in raw and str(n)[2:].encode() not in raw
        assert int(n).to_bytes(8, "little") not in raw and int(n).to_bytes(8, "big") not in raw
    assert (tmp_path / SNAPSHOT).stat().st_mode & 0o777 == 0o600
    again = record_movement(tmp_path, numbers, reasons)
    assert again is not None and (again.added, again.removed, again.moves) == (0, 0, [])
    (tmp_path / SNAPSHOT).write_bytes(b"PK\x03\x04 not a zip")
    assert read_snapshot(tmp_path / SNAPSHOT) is None
    assert record_movement(tmp_path, numbers, reasons) is None  # no wrong movement
    assert read_snapshot(tmp_path / SNAPSHOT) is not None  # replaced


def _tampered(path: Path, **arrays: np.ndarray) -> None:
    fields = {"layout": np.array(1), "key": np.array(KEY, dtype=np.uint64),
              "digests": np.array([1, 2], dtype=np.uint64),
              "status": np.array([0, 0], dtype=np.uint8), **arrays}
    with path.open("wb") as fh:
        np.savez(fh, **fields)  # type: ignore[arg-type]


def test_a_tampered_or_truncated_snapshot_is_no_movement_never_a_crash(
        tmp_path: Path) -> None:
    """A hostile or damaged snapshot (a negative key, 2-D arrays, float digests, another
    layout's types, half a file) is refused: the run reports no movement and replaces it,
    it never crashes nor prints a numpy warning."""
    numbers, reasons = _snap({33607123456: "reachable", 33612345678: "not_rcs"})
    path = tmp_path / SNAPSHOT
    cases: list[dict[str, np.ndarray]] = [
        {"key": np.array([-1, 2], dtype=np.int64)},
        {"key": np.array([1.5, 2.5])},
        {"key": np.array([[1, 2]], dtype=np.uint64)},
        {"digests": np.array([[1, 2], [3, 4]], dtype=np.uint64),
         "status": np.array([[0, 0], [0, 0]], dtype=np.uint8)},
        {"digests": np.array([1.5, np.nan])},
        {"status": np.array([0, 1], dtype=np.int64)},
        {"layout": np.array([1, 1])},
    ]
    import warnings
    for arrays in cases:
        _tampered(path, **arrays)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert read_snapshot(path) is None, arrays
            assert record_movement(tmp_path, numbers, reasons) is None, arrays
        assert read_snapshot(path) is not None  # replaced by this run's
    whole = path.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 30, 10):
        path.write_bytes(whole[:cut])
        assert read_snapshot(path) is None
        assert record_movement(tmp_path, numbers, reasons) is None


def test_the_html_trend_says_what_changed(tmp_path: Path) -> None:
    _, report = check_json([str(SAMPLE / "contacts.csv")])
    s = _summary(report)
    history = [{"at": "2026-12-05T23:30:00+00:00", "error_ratio": 0.2, "movement": None},
               {"at": "2026-12-06T23:30:00+00:00", "error_ratio": 0.1,
                "movement": {"added": 5, "removed": 1, "moves": [
                    {"from": "reachable", "to": "not_rcs", "numbers": 2}]}}]
    now = {"added": 1200, "removed": 3, "moves": [
        {"from": "not_rcs", "to": "reachable", "numbers": 4}]}
    en = format_html(s, history, lang="en", movement=now)
    assert ("Since the previous run: 1,200 numbers added, 3 removed; "
            "No RCS → Reachable in RCS: 4.") in en
    assert "5 numbers added, 1 removed; Reachable in RCS → No RCS: 2" in en
    fr = format_html(s, history, lang="fr", movement=now)
    assert "Depuis l'exécution précédente : 1\u202f200 numéros ajoutés" in fr or (
        "Depuis l'exécution précédente : 1\u00a0200 numéros ajoutés" in fr)
    assert "Sans RCS → Joignable en RCS : 4" in fr
    # a first run, and a damaged logged value, say nothing rather than something wrong
    quiet = format_html(s, [{"at": "x", "error_ratio": 0.1, "movement": {"added": "x"}}],
                        lang="en", movement=None)
    assert "Since the previous run" not in quiet


def test_a_tampered_log_line_is_no_movement_never_a_crash(tmp_path: Path) -> None:
    """Review attack: a history line whose movement says ``1e400`` (JSON infinity) made
    every later check with --history and --html-report exit 2 with an unexpected
    OverflowError; negative or fractional counts would have been drawn as facts."""
    html = tmp_path / "r.html"
    for bad in ('{"added": 1e400, "removed": 0, "moves": []}',
                '{"added": -5, "removed": 0, "moves": []}',
                '{"added": 1.5, "removed": 0, "moves": []}',
                '{"added": 1, "removed": 0, "moves": [{"from": "reachable", "to": "not_rcs",'
                ' "numbers": NaN}]}',
                '{"added": 1, "removed": 0, "moves": {"from": 1}}'):
        log = tmp_path / "h.log"
        log.write_text('{"at": "2026-12-05T23:30:00+00:00", "base": "contacts.csv", '
                       '"exit_code": 1, "error_ratio": 0.2, "decision": "fail", '
                       f'"movement": {bad}}}\n', encoding="utf-8")
        result = run_cli(["check", str(SAMPLE / "contacts.csv"), "--history", str(log),
                          "--html-report", str(html), "--lang", "en", "-q"])
        assert result.exit_code == 3, (bad, result.stderr)
        assert "Since the previous run" not in html.read_text(encoding="utf-8"), bad


def test_refresh_logs_the_movement(tmp_path: Path, emulator: Emulator) -> None:
    numbers = frte_numbers(12)
    emulator.configure(numbers={f"+33{n[1:]}": {"capable": i < 10}
                                for i, n in enumerate(numbers)})
    log, lists, html = tmp_path / "refresh.log", tmp_path / "lists", tmp_path / "r.html"
    args = ["--split-dir", str(lists), "--log-file", str(log), "--no-cache", "--threshold",
            "1", *emulator.bothub_args(), "--rate", "1000", "--html-report", str(html),
            "--lang", "en"]
    base = contacts_file(tmp_path, numbers)
    assert run_cli(["refresh", str(base), *args]).exit_code == 0
    assert json.loads(log.read_text().splitlines()[-1])["movement"] is None
    # the next night: two numbers gone, three new, one not-RCS number now reachable
    base = contacts_file(tmp_path, [*numbers[:9], numbers[10], *frte_numbers(3, 500)])
    emulator.configure(numbers={f"+33{n[1:]}": {"capable": True}
                                for n in [*numbers, *frte_numbers(3, 500)]})
    result = run_cli(["refresh", str(base), *args])
    assert result.exit_code == 0, result.stderr
    line = json.loads(log.read_text().splitlines()[-1])
    assert line["movement"] == {"added": 3, "removed": 2, "moves": [
        {"from": "not_rcs", "to": "reachable", "numbers": 1}]}
    assert line["version"] and line["gate_mode"] == "decide" and line["decision"] == "pass"
    page = html.read_text(encoding="utf-8")
    assert ("Since the previous run: 3 numbers added, 2 removed; "
            "No RCS → Reachable in RCS: 1.") in page
    # no number in clear in the log line
    for n in [*numbers, *frte_numbers(3, 500)]:
        assert n[1:] not in json.dumps(line)
