"""A check of one option's value is its declaration's (issue #24 item 4): made once,
when its group is built (``settings.Opt``: ``share``, ``choices``, bounds), so the
command line, a profile and a Python caller get the same one-line message and exit 2;
``validation.validate_settings`` keeps only the checks that need several options, a
file or the numbering plan."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from rcsqualify import validation
from rcsqualify.errors import InputError
from rcsqualify.settings import settings_from
from tests.helpers import frte_numbers, run_cli, write_csv

#: (option, bad value, the message) of each check the declarations now make
MOVED = [
    ("threshold", 15.0, "--threshold must be between 0 and 1 (a share), got 15.0"),
    ("threshold", float("nan"), "--threshold must be between 0 and 1 (a share), got nan"),
    ("gate", "worst", "--gate must be one of decide, known, upper, got 'worst'"),
    ("lang", "de", "--lang must be fr or en, got 'de'"),
    ("confidence", 2.0, "--confidence must be from 0.5 to 0.999, got 2.0"),
    ("sample_max", 0, "--sample-max must be at least 1"),
    ("portability_max_unmapped", 2.0,
     "--portability-max-unmapped must be between 0 and 1 (a share), got 2.0"),
    ("portability_max_age", -1, "--portability-max-age must not be negative"),
    ("reply_rate", 1.5, "--reply-rate must be between 0 and 1 (a share), got 1.5"),
    ("warn_at", 12.0, "--warn-at must be between 0 and 1 (a share), got 12.0"),
    ("price_message", -1.0, "--price-message must not be negative"),
]


@pytest.mark.parametrize(("name", "value", "message"), MOVED)
def test_a_python_caller_gets_the_declarations_message(name: str, value: object,
                                                       message: str) -> None:
    with pytest.raises(InputError) as caught:
        settings_from(**{name: value})
    assert str(caught.value) == message


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--threshold", "15", "--threshold must be between 0 and 1 (a share), got 15.0"),
    ("--gate", "worst", "--gate must be one of decide, known, upper, got 'worst'"),
    ("--lang", "de", "--lang must be fr or en, got 'de'"),
    ("--reply-rate", "1.5", "--reply-rate must be between 0 and 1 (a share), got 1.5"),
])
def test_the_command_line_gets_the_same_one_line(tmp_path: Path, flag: str, value: str,
                                                 message: str) -> None:
    base = tmp_path / "c.csv"
    write_csv(base, [["tel"], *([n] for n in frte_numbers(3))])
    result = run_cli(["check", str(base), flag, value, "-q"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"rcsqualify: error: {message}"


def test_validate_settings_no_longer_checks_one_option_alone() -> None:
    """Each moved check is gone from validation.py (it would be a second copy)."""
    source = inspect.getsource(validation)
    for name, _, _ in MOVED:
        assert f"s.{name} " not in source and f"s.{name})" not in source, name
