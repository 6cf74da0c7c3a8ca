"""Issue #25 over real files: several phone columns (CSV, XLSX), a long table with a
contact id, the annotated output's per-contact columns, the split lists per contact, and
one column counted the same way as rows (the sample both ways)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from rcsqualify.contact_check import run_contact_check
from rcsqualify.contacts import ContactSource
from rcsqualify.errors import InputError
from rcsqualify.numbering.plan import NumberingPlan, load_plan
from rcsqualify.pipeline import CheckResult, run_check
from rcsqualify.report.split import write_split_lists
from rcsqualify.report.summary import Summary, summarize
from rcsqualify.report.writers import write_annotated
from tests.helpers import write_csv

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "contacts.csv"
FRTE = "06 07 00 00 01"  # an Orange-range mobile (offline: unverified, not_checked)
SFR = "06 12 34 56 78"  # an SFR-range mobile (offline: other_operator)
FIXED = "01 45 67 89 10"


@pytest.fixture(scope="module")
def plan() -> NumberingPlan:
    return load_plan()


def summary_of(result: CheckResult, plan: NumberingPlan, source: ContactSource) -> Summary:
    return summarize(result, plan, input_info=source.info.as_dict(), threshold=0.15)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def two_columns(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "two.csv", [
        ["Nom", "Tél. portable", "Fixe"],
        ["A", SFR, FIXED],           # first number an SFR mobile: kept (best it has)
        ["B", "", FRTE],             # no mobile in the first column: the second
        ["C", FIXED, FRTE],          # rescued by its second number
        ["D", "abc", ""],            # one invalid number
        ["E", "", ""],               # no number at all: one empty message
        ["F", FRTE, SFR],            # shares its chosen number with B and C
    ])


def test_two_columns_one_message_per_contact(tmp_path: Path, plan: NumberingPlan) -> None:
    src = ContactSource(str(two_columns(tmp_path)), column="Tél. portable",
                        more_columns=["Fixe"])
    assert src.per_contact and src.phone_columns == ["Tél. portable", "Fixe"]
    result = run_contact_check(src, plan)
    s = summary_of(result, plan, src)
    c = s.counts
    assert (c["rows"], c["contacts"], c["messages"], c["duplicates"]) == (6, 6, 4, 2)
    assert c["contacts"] == c["messages"] + c["duplicates"]
    assert sum(c[k] for k in ("invalid", "not_mobile", "other_operator", "not_rcs",
                              "unverified", "reachable")) == c["messages"]
    assert (c["unverified"], c["other_operator"], c["invalid"]) == (1, 1, 2)
    block = s.input["contacts"]
    assert block["rescued"] == 1 == c["rescued"]
    assert block["rescued_by_status"] == {"unverified": 1}
    assert block["numbers"] == 8 and block["distinct_numbers"] == 3
    assert s.input["phone_columns"] == ["Tél. portable", "Fixe"]

    out = tmp_path / "out.csv"
    write_annotated(str(out), src, result, plan)
    rows = read_rows(out)
    assert [r["Nom"] for r in rows] == list("ABCDEF")  # every row, in order
    assert [r["chosen_column"] for r in rows] == [
        "Tél. portable", "Fixe", "Fixe", "Tél. portable", "", "Tél. portable"]
    assert rows[2]["chosen_number"] == "+33607000001" == rows[2]["msisdn_e164"]
    assert rows[2]["status"] == "unverified"  # the contact's status
    assert rows[2]["Tél. portable_status"] == "not_mobile"  # each number keeps its own
    assert rows[2]["Fixe_status"] == "unverified"
    assert rows[1]["Tél. portable_e164"] == "" and rows[1]["Tél. portable_status"] == ""
    assert rows[0]["Fixe_e164"] == "+33145678910"

    lists = write_split_lists(str(tmp_path / "lists"), src, result, plan)
    assert lists["unverified"] == 1 and lists["duplicates"] == 2
    assert lists["remove"] == 2 and lists["other_operators"] == 1
    listed = read_rows(tmp_path / "lists" / "unverified.csv")
    assert [r["Nom"] for r in listed] == ["B"]  # listed once, with its chosen number


def test_an_input_column_named_like_an_added_one_is_kept(tmp_path: Path,
                                                          plan: NumberingPlan) -> None:
    f = write_csv(tmp_path / "clash.csv", [["mobile", "fixe", "mobile_e164"],
                                          [FRTE, FIXED, "mine"]])
    src = ContactSource(str(f), column="mobile", more_columns=["fixe"])
    out = tmp_path / "out.csv"
    write_annotated(str(out), src, run_contact_check(src, plan), plan)
    row = read_rows(out)[0]
    assert row["mobile_e164_input"] == "mine" and row["mobile_e164"] == "+33607000001"


def test_three_columns_in_a_workbook(tmp_path: Path, plan: NumberingPlan) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Nom", "Tel 1", "Tel 2", "Tel 3"])
    ws.append(["A", FIXED, SFR, FRTE])
    ws.append(["B", None, None, 612345678])  # a number cell, as Excel keeps it
    ws.append(["C", "n/a", None, None])
    path = tmp_path / "three.xlsx"
    wb.save(path)
    src = ContactSource(str(path), column="Tel 1", more_columns=["Tel 2", "Tel 3"])
    result = run_contact_check(src, plan)
    s = summary_of(result, plan, src)
    assert (s.counts["contacts"], s.counts["messages"], s.counts["duplicates"]) == (3, 3, 0)
    assert s.counts["unverified"] == 1 and s.counts["other_operator"] == 1
    out = tmp_path / "out.csv"
    write_annotated(str(out), src, result, plan)
    rows = read_rows(out)
    assert [r["chosen_column"] for r in rows] == ["Tel 3", "Tel 3", "Tel 1"]
    assert rows[1]["chosen_number"] == "+33612345678"


def long_table(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "long.csv", [
        ["id", "numero", "rang"],
        ["1", FIXED, "2"],
        ["2", SFR, "1"],
        ["1", FRTE, "10"],
        ["", FRTE, ""],     # a blank id: its own contact
        ["2", FIXED, "9"],
        ["", "", ""],       # another blank id, no number: its own (empty) contact
    ])


def test_long_format_with_ids_ranks_and_blank_ids(tmp_path: Path, plan: NumberingPlan
                                                  ) -> None:
    src = ContactSource(str(long_table(tmp_path)), column="numero", contact_id="id",
                        number_rank="rang")
    result = run_contact_check(src, plan)
    s = summary_of(result, plan, src)
    c = s.counts
    # contacts: 1, 2, the blank-id row 4, the blank-id row 6
    assert (c["rows"], c["contacts"], c["messages"], c["duplicates"]) == (6, 4, 3, 1)
    assert s.input["contacts"]["blank_ids"] == 2
    out = tmp_path / "out.csv"
    write_annotated(str(out), src, result, plan)
    rows = read_rows(out)
    # contact 1 chooses its Orange mobile (rank 10, after the fixed line of rank 2)
    assert [r["chosen_number"] for r in rows[:3]] == ["+33607000001", "+33612345678",
                                                      "+33607000001"]
    assert rows[0]["status"] == rows[2]["status"] == "unverified"
    lists = write_split_lists(str(tmp_path / "lists"), src, result, plan)
    assert sum(v for k, v in lists.items() if k != "duplicates") == 3  # one per message


def test_a_contact_with_500_numbers_is_capped_and_said(tmp_path: Path,
                                                       plan: NumberingPlan) -> None:
    rows = [["id", "tel"], *[["X", f"06 07 00 {i // 100:02d} {i % 100:02d}"]
                             for i in range(500)], ["Y", SFR]]
    src = ContactSource(str(write_csv(tmp_path / "many.csv", rows)), column="tel",
                        contact_id="id")
    result = run_contact_check(src, plan, max_numbers=10)
    s = summary_of(result, plan, src)
    assert s.counts["rows"] == 501 and s.counts["contacts"] == 2
    block = s.input["contacts"]
    assert (block["numbers_dropped"], block["contacts_capped"]) == (490, 1)
    assert any("--max-numbers-per-contact" in n for n in s.notes)
    out = tmp_path / "out.csv"
    assert write_annotated(str(out), src, result, plan) == 501  # no row lost


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"column": "Fixe", "more_columns": ["Fixe"]}, "given twice"),
    ({"column": "Tél. portable", "more_columns": ["tel portable"]}, "given twice"),
    ({"column": "Fixe", "contact_id": "Fixe"}, "is a phone column"),
    ({"column": "Fixe", "number_rank": "Nom"}, "give --contact-id too"),
    ({"column": "Fixe", "more_columns": ["nope"]}, "no column"),
    ({"column": "Fixe", "all_phone_columns": True}, "not both"),
])
def test_bad_column_options_are_one_line_errors(tmp_path: Path, kwargs: dict[str, Any],
                                                message: str) -> None:
    with pytest.raises(InputError, match=message):
        ContactSource(str(two_columns(tmp_path)), **kwargs)


def test_columns_auto_orders_by_mobile_share_and_the_hint_names_the_others(
        tmp_path: Path) -> None:
    f = write_csv(tmp_path / "auto.csv", [
        ["Nom", "Fixe", "Tel", "Ville"],
        *[[f"n{i}", FIXED if i % 4 else FRTE, FRTE if i % 4 else FIXED, "Lyon"]
          for i in range(20)]])
    src = ContactSource(str(f), all_phone_columns=True)
    assert src.phone_columns == ["Tel", "Fixe"]
    plain = ContactSource(str(f))
    assert not plain.per_contact and plain.info.column == "Tel"
    assert plain.info.other_phone_columns == ["Fixe"]
    assert "phone_columns" not in plain.info.as_dict()  # today's input block


def _figures(s: Summary) -> dict[str, Any]:
    data = s.as_dict()
    for key in ("input", "timings", "tool"):
        data.pop(key)
    return data


def test_the_sample_counted_by_contacts_equals_counting_rows(plan: NumberingPlan) -> None:
    """One column and no contact id: every figure of the contact path is today's."""
    legacy_src = ContactSource(str(SAMPLE))
    legacy = summary_of(run_check(legacy_src, plan), plan, legacy_src)
    src = ContactSource(str(SAMPLE))
    assert not src.per_contact
    result = run_contact_check(src, plan)
    by_contact = summary_of(result, plan, src)
    contacts_only = ("contacts", "rescued")
    assert {k: v for k, v in by_contact.counts.items() if k not in contacts_only} == \
        legacy.counts
    by_contact.counts = legacy.counts
    assert _figures(by_contact) == _figures(legacy)
    assert by_contact.counts["messages"] > 100


def test_reports_say_contacts_and_rescued(tmp_path: Path, plan: NumberingPlan) -> None:
    from rcsqualify.report.html import format_html
    from rcsqualify.report.json_report import format_json
    from rcsqualify.report.markdown import format_markdown
    from rcsqualify.report.terminal import format_terminal, read_line
    from tests.helpers import validate_report

    src = ContactSource(str(two_columns(tmp_path)), column="Tél. portable",
                        more_columns=["Fixe"])
    s = summary_of(run_contact_check(src, plan), plan, src)
    line = "6 contacts = 4 messages + 2 duplicate contacts"
    assert line in format_terminal(s, width=300)
    assert line in format_markdown(s)
    assert "6 contacts = 4 messages + 2 contacts en double" in format_markdown(s, lang="fr")
    assert "1 contact rescued by a second number" in format_html(s)
    assert "<b>Tél. portable, Fixe</b>" in format_html(s)
    assert "Fixe" in format_markdown(s)  # escaped: "Tél\\. portable\\, Fixe"
    validate_report(__import__("json").loads(format_json(s)))
    read = read_line(s.input)
    assert "6 contacts" in read and "columns 'Tél. portable', 'Fixe'" in read


def test_the_read_line_names_other_phone_columns(tmp_path: Path) -> None:
    from rcsqualify.report.terminal import read_line

    src = ContactSource(str(two_columns(tmp_path)))
    assert src.info.column == "Tél. portable"
    line = read_line(src.info.as_dict())
    assert "other phone-like columns: 'Fixe'" in line and "--columns auto" in line


def test_the_dispatch_keeps_rows_and_samples_contacts_only_with_a_provider(
        tmp_path: Path, plan: NumberingPlan) -> None:
    """A sample over contacts draws contacts (tests/test_contacts_sample.py); offline,
    nothing is asked, so nothing is drawn, as with one column."""
    from rcsqualify.contact_check import check_rows_or_contacts

    plain = ContactSource(str(two_columns(tmp_path)))
    assert check_rows_or_contacts(plain, plan, sample=2).contacts is None  # today's path
    grouped = ContactSource(str(two_columns(tmp_path)), column="Tél. portable",
                            more_columns=["Fixe"])
    assert check_rows_or_contacts(grouped, plan, target_operator="FRTE").contacts is not None
    again = ContactSource(str(two_columns(tmp_path)), column="Tél. portable",
                          more_columns=["Fixe"])
    sampled = check_rows_or_contacts(again, plan, sample=2)
    assert sampled.contacts is not None and sampled.estimate is None and not sampled.sampled


class _FakeMnp:
    """An operator source that calls a service (``api`` set): records what it is asked."""

    label = "mnp"
    streams = False

    def __init__(self, ported: dict[int, str]) -> None:
        from rcsqualify.operators.interface import SourceStats
        from rcsqualify.remote.stats import ProviderStats

        self.ported, self.asked = ported, []  # type: list[int]
        self.stats, self.api = SourceStats(), ProviderStats()

    def lookup(self, keys: Any) -> Any:
        import numpy as np

        self.asked += [int(k) for k in keys]
        return np.array([self.ported.get(int(k), "") for k in keys], dtype=object)


class _FakeCapability:
    name = "fake"

    def __init__(self, yes: set[str]) -> None:
        from rcsqualify.remote.stats import ProviderStats

        self.notes: list[str] = []
        self.yes, self.asked, self.stats = yes, [], ProviderStats()  # type: list[str]

    def check_all(self, e164: Any, progress: Any = None) -> Any:
        import numpy as np

        from rcsqualify.verdict import RCS_NO, RCS_YES

        numbers = list(e164)
        self.asked += numbers
        return np.array([RCS_YES if n in self.yes else RCS_NO for n in numbers], np.uint8)


def test_rounds_ask_only_what_could_change_a_choice(tmp_path: Path, plan: NumberingPlan
                                                    ) -> None:
    a, b, c, d, e = (f"06 07 00 00 {i:02d}" for i in range(1, 6))
    key = {n: int("33" + n.replace(" ", "")[1:]) for n in (a, b, c, d, e)}
    f = write_csv(tmp_path / "r.csv", [["nom", "m1", "m2"],
                                        ["x", a, b],       # a reachable: b never asked
                                        ["y", c, d],       # c ported away: d asked
                                        ["z", FIXED, e]])  # fixed first: e asked
    mnp = _FakeMnp({key[c]: "SFR0"})
    cap = _FakeCapability({"+33607000001", "+33607000004", "+33607000005"})
    src = ContactSource(str(f), column="m1", more_columns=["m2"])
    result = run_contact_check(src, plan, operator_sources=[mnp],  # type: ignore[list-item]
                               provider=cap)  # type: ignore[arg-type]
    assert sorted(mnp.asked) == sorted(key[n] for n in (a, c, d, e))
    assert sorted(cap.asked) == ["+33607000001", "+33607000004", "+33607000005"]
    s = summary_of(result, plan, src)
    assert s.counts["reachable"] == 3 and s.counts["rescued"] == 2
    assert s.input["contacts"]["looked_up"] == 4
    out = tmp_path / "out.csv"
    write_annotated(str(out), src, result, plan)
    rows = read_rows(out)
    assert rows[0]["m2_status"] == "unverified"  # b: never asked, not_checked
    assert rows[1]["m1_status"] == "other_operator" and rows[1]["status"] == "reachable"


def test_a_total_row_is_a_footer_with_several_columns_and_a_contact_id(
        tmp_path: Path, plan: NumberingPlan) -> None:
    """The one-column footer rule (``contacts/footer.py``) applies to rows grouped into
    contacts: a last row whose phone cells hold no number and that reads as a total is
    left out of the contacts and kept in the output with reason ``footer``."""
    f = write_csv(tmp_path / "wide.csv", [
        ["id", "Nom", "Tél. portable", "Fixe"],
        ["1", "A", SFR, FIXED],
        ["2", "B", "", FRTE],
        ["3", "C", FRTE, ""],
        ["", "TOTAL", "", "3"],
    ])
    for options in ({}, {"contact_id": "id"}):
        src = ContactSource(str(f), column="Tél. portable", more_columns=["Fixe"],
                            **options)
        result = run_contact_check(src, plan)
        c = summary_of(result, plan, src).counts
        assert (c["rows"], c["contacts"], c["invalid"]) == (3, 3, 0), options
        assert src.info.footer_rows == 1
        out = tmp_path / "out.csv"
        write_annotated(str(out), src, result, plan)
        rows = read_rows(out)
        assert [r["Nom"] for r in rows] == ["A", "B", "C", "TOTAL"]
        assert rows[-1]["reason"] == "footer" and rows[-1]["status"] == ""
    # a last contact without a phone number is no footer: it stays a contact
    g = write_csv(tmp_path / "last.csv", [["Nom", "tel1", "tel2"], ["A", FRTE, ""],
                                          ["Zoé", "", "12"]])
    src = ContactSource(str(g), column="tel1", more_columns=["tel2"])
    assert summary_of(run_contact_check(src, plan), plan, src).counts["contacts"] == 2
    assert src.info.footer_rows == 0


class _StreamingMnp(_FakeMnp):
    """A per-number (streaming) MNP: the last number of the first round is answered
    only once the capability check has received a number, or after ``WAIT`` seconds
    (then ``overlapped`` stays False): a round asked service after service never
    overlaps."""

    streams = True
    WAIT = 20.0

    def __init__(self, ported: dict[int, str], last: str, checked: Any) -> None:
        super().__init__(ported)
        self.last, self.checked, self.overlapped = last, checked, False

    def session(self) -> Any:
        import contextlib

        return contextlib.nullcontext()

    async def resolve(self, e164: str) -> str:
        import asyncio

        key = int(e164[1:])
        self.asked.append(key)
        if e164 == self.last:
            try:
                await asyncio.wait_for(self.checked.wait(), self.WAIT)
                self.overlapped = True
            except TimeoutError:
                pass
        return self.ported.get(key, "")


class _ConsumingCapability(_FakeCapability):
    per_number = True

    def __init__(self, yes: set[str], checked: Any) -> None:
        super().__init__(yes)
        self.checked, self.calls = checked, 0

    def session(self) -> Any:
        import contextlib

        return contextlib.nullcontext()

    async def consume(self, queue: Any, sink: Any, tally: Any) -> None:
        from rcsqualify.verdict import RCS_NO, RCS_YES

        self.calls += 1
        while (item := await queue.get()) is not None:
            self.asked.append(item[1])
            self.checked.set()
            sink(item[0], RCS_YES if item[1] in self.yes else RCS_NO)


@pytest.mark.parametrize("batch", [2, 20_000])
def test_a_round_streams_mnp_into_the_capability_check_in_bounded_batches(
        tmp_path: Path, plan: NumberingPlan, batch: int, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    """With a streaming MNP service, a round's capability checks leave while MNP is
    still answering (the run takes the slower service's time, not the sum), in batches
    of ``STREAM_BATCH`` numbers; what is asked and every verdict are the rounds' own."""
    import asyncio

    from rcsqualify import contact_check

    monkeypatch.setattr(contact_check, "STREAM_BATCH", batch)
    a, b, c, d, e = (f"06 07 00 00 {i:02d}" for i in range(1, 6))
    key = {n: int("33" + n.replace(" ", "")[1:]) for n in (a, b, c, d, e)}
    f = write_csv(tmp_path / "r.csv", [["nom", "m1", "m2"],
                                        ["x", a, b],       # a reachable: b never asked
                                        ["y", c, d],       # c ported away: d asked
                                        ["z", FIXED, e]])  # fixed first: e asked
    checked = asyncio.Event()
    # the first round asks a, c, e: e waits for a capability check to have started
    mnp = _StreamingMnp({key[c]: "SFR0"}, "+33607000005", checked)
    cap = _ConsumingCapability({"+33607000001", "+33607000004", "+33607000005"}, checked)
    src = ContactSource(str(f), column="m1", more_columns=["m2"])
    result = run_contact_check(src, plan, operator_sources=[mnp],  # type: ignore[list-item]
                               provider=cap)  # type: ignore[arg-type]
    if batch > 3:  # a, c and e in one stream: a's check leaves before e's MNP answer
        assert mnp.overlapped
    assert sorted(mnp.asked) == sorted(key[n] for n in (a, c, d, e))
    assert sorted(cap.asked) == ["+33607000001", "+33607000004", "+33607000005"]
    s = summary_of(result, plan, src)
    assert s.counts["reachable"] == 3 and s.counts["rescued"] == 2
    out = tmp_path / "out.csv"
    write_annotated(str(out), src, result, plan)
    rows = read_rows(out)
    assert [r["status"] for r in rows] == ["reachable"] * 3
    assert [r["chosen_column"] for r in rows] == ["m1", "m2", "m2"]
    assert rows[1]["m1_status"] == "other_operator" and rows[0]["m2_status"] == "unverified"


@pytest.mark.parametrize(("per_number", "calls"), [(True, 4), (False, 2)])
def test_a_bulk_service_gets_each_round_as_one_stream(
        tmp_path: Path, plan: NumberingPlan, monkeypatch: pytest.MonkeyPatch,
        per_number: bool, calls: int) -> None:
    """Streams of one number (``STREAM_BATCH`` = 1): a per-number check is called once
    a stream (3 numbers in the first round, 1 in the second); a bulk or batch service
    once a round, as the dry run counts its jobs (a stream would add a partial job)."""
    import asyncio

    from rcsqualify import contact_check

    monkeypatch.setattr(contact_check, "STREAM_BATCH", 1)
    a, b, c, d, e = (f"06 07 00 00 {i:02d}" for i in range(1, 6))
    key = {n: int("33" + n.replace(" ", "")[1:]) for n in (a, b, c, d, e)}
    f = write_csv(tmp_path / "r.csv", [["nom", "m1", "m2"], ["x", a, b], ["y", c, d],
                                        ["z", FIXED, e]])
    checked = asyncio.Event()
    mnp = _StreamingMnp({key[c]: "SFR0"}, "", checked)
    cap = _ConsumingCapability({"+33607000001", "+33607000004", "+33607000005"}, checked)
    cap.per_number = per_number
    src = ContactSource(str(f), column="m1", more_columns=["m2"])
    result = run_contact_check(src, plan, operator_sources=[mnp],  # type: ignore[list-item]
                               provider=cap)  # type: ignore[arg-type]
    assert cap.calls == calls
    assert sorted(cap.asked) == ["+33607000001", "+33607000004", "+33607000005"]
    assert summary_of(result, plan, src).counts["reachable"] == 3
