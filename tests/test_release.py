"""Issue #27 item 3: an installable release.

The sdist and the wheel are built as a maintainer builds them (``python -m build``: the
sdist from a copy of the tree, then the wheel from the sdist, so a file missing from the
sdist is missing from the wheel), ``twine check`` accepts both, and the wheel installed
into a fresh virtual environment, with no source tree on its path, runs the sample check
and gives the report the source tree gives.

Built once per test session (one build shared by the xdist workers through a lock).
``--no-isolation`` keeps the build off the network: the test extra installs the build
backend pyproject.toml names, and ``build`` still checks its version requirement. The
fresh environment gets the dependencies without an index: it is created without pip,
the wheel is installed into it with ``--no-deps`` by this environment's pip, and a
``.pth`` file appends this environment's site-packages to its path. A plain directory
line in a ``.pth`` is added to ``sys.path`` without running that directory's own
``.pth`` files, so the editable install of the checkout (a ``.pth`` hook) stays off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import rcsqualify
from tests.conftest import ROOT
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

#: what never goes into a build: environments, caches, earlier builds
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "venv", "build", "dist", "*.egg-info",
                                     "__pycache__", ".*_cache", ".hypothesis", "_work")


@dataclass(frozen=True)
class Release:
    sdist: Path
    wheel: Path
    python: Path  # the fresh environment's interpreter, the wheel installed
    site: Path    # its site-packages


def _run(args: list[str | Path], **kw: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=300, **kw)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def _build_and_install(where: Path) -> Release:
    tree = where / "tree"
    shutil.copytree(ROOT, tree, ignore=_NOT_SOURCE)
    dist = where / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, tree])
    (sdist,) = dist.glob("rcsqualify-*.tar.gz")
    (wheel,) = dist.glob("rcsqualify-*-py3-none-any.whl")
    venv = where / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "--quiet", wheel])
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"]).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_rcsqualify_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    return Release(sdist, wheel, python, site)


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Release:
    from filelock import FileLock

    # under xdist every worker's basetemp sits in one directory per session: build there
    # once; alone, the session's own basetemp
    shared = (tmp_path_factory.getbasetemp().parent if worker_id != "master"
              else tmp_path_factory.getbasetemp())
    where = shared / "release"
    done = shared / "release.json"
    with FileLock(str(shared / "release.lock")):
        if not done.is_file():
            if where.exists():
                shutil.rmtree(where)  # a worker that died half-way
            built = _build_and_install(where)
            done.write_text(json.dumps({k: str(v) for k, v in vars(built).items()}))
    return Release(**{k: Path(v) for k, v in json.loads(done.read_text()).items()})


@pytest.fixture
def clean_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """No RCSQUALIFY_ setting, no PYTHONPATH, and fresh cache, plan and config
    directories: the installed package compiles its plan from its own package data."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RCSQUALIFY_", "PYTHON", "GITHUB_", "XDG_"))}
    for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        env[name] = str(tmp_path / "home" / name.lower())
    env["RCSQUALIFY_PLAN_DIR"] = str(tmp_path / "home" / "plan")
    env["RCSQUALIFY_QUOTA_DIR"] = str(tmp_path / "home" / "quota")
    yield env


def test_twine_accepts_the_sdist_and_the_wheel(release: Release) -> None:
    done = _run([sys.executable, "-m", "twine", "check", "--strict", release.sdist,
                 release.wheel])
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_the_wheel_carries_the_package_data_and_the_one_version(release: Release) -> None:
    with zipfile.ZipFile(release.wheel) as whl:
        names = set(whl.namelist())
        meta = whl.read(f"rcsqualify-{rcsqualify.__version__}.dist-info/METADATA").decode()
    for needed in ("rcsqualify/data/arcep/MAJNUM.csv", "rcsqualify/data/arcep/MAJPORTA.csv",
                   "rcsqualify/data/arcep/MAJMNC.csv", "rcsqualify/data/arcep/GELNUM.csv",
                   "rcsqualify/data/arcep/identifiants_CE.csv", "rcsqualify/py.typed",
                   "rcsqualify/__init__.pyi",
                   "rcsqualify/data/mnp_profiles/generic.toml",
                   "rcsqualify/data/mnp_profiles/twilio.toml",
                   "rcsqualify/data/mnp_profiles/hlr-lookups.toml"):
        assert needed in names
    assert not any(n.startswith("tests/") for n in names)
    assert re.search(rf"^Version: {re.escape(rcsqualify.__version__)}$", meta, re.M)
    assert re.search(r"^License-Expression: MIT$", meta, re.M)
    assert re.search(r"^Requires-Dist: phonenumbers==", meta, re.M)


def test_the_version_is_written_once() -> None:
    """pyproject.toml reads it from the package; the changelog's newest entry names it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "rcsqualify.__version__"}
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    # an "Unreleased" section above it gathers the changes since (Keep a Changelog)
    newest = re.search(r"^## (?!\[?Unreleased\b)(.+)$", changelog, re.M)
    assert newest is not None
    assert newest.group(1).split()[0] == rcsqualify.__version__


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between two runs of one check (times, paths)."""
    out = {k: v for k, v in report.items() if k not in ("timings", "input")}
    out["input"] = {k: v for k, v in report["input"].items() if k != "path"}
    return out


def test_the_installed_wheel_runs_the_sample_check(release: Release, tmp_path: Path,
                                                   clean_env: dict[str, str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    shutil.copytree(ROOT / "sample_data", work)
    # the package is the wheel's, and no source tree (a directory holding an rcsqualify
    # package other than the installed one) is on the path
    probe = _run([release.python, "-c",
                  "import json, sys, rcsqualify; from rcsqualify.operators.mnp_profiles "
                  "import BUILTIN, load_profile; "
                  "print(json.dumps({'file': rcsqualify.__file__, 'path': sys.path, "
                  "'version': rcsqualify.__version__, "
                  "'profiles': [load_profile(n).name for n in BUILTIN]}))"],
                 cwd=work, env=clean_env)
    seen = json.loads(probe.stdout)
    assert Path(seen["file"]).parent == release.site / "rcsqualify"
    packages = [p for p in seen["path"] if p and (Path(p) / "rcsqualify" / "__init__.py")
                .is_file()]
    assert packages == [str(release.site)], packages
    assert seen["version"] == rcsqualify.__version__
    assert sorted(seen["profiles"]) == ["generic", "hlr-lookups", "twilio"]

    exe = release.python.with_name("rcsqualify.exe" if os.name == "nt" else "rcsqualify")
    version = _run([exe, "--version"], cwd=work, env=clean_env)
    assert version.stdout.startswith(f"rcsqualify {rcsqualify.__version__} ")

    installed = subprocess.run([str(exe), "check", "contacts.csv", "--portability",
                                "portability.csv", "--json-report", "report.json", "-q"],
                               cwd=work, env=clean_env, capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 3, installed.stderr  # the sample is UNDECIDED offline
    report = json.loads((work / "report.json").read_text(encoding="utf-8"))
    assert report["tool"]["version"] == rcsqualify.__version__
    assert report["tool"]["arcep_plan_source"] == "shipped"
    # the plan was compiled from the wheel's own data, in the fresh cache directory
    assert list((Path(clean_env["XDG_CACHE_HOME"]) / "rcsqualify" / "plan").glob("*.pkl"))

    # the Python API of the installed package: the same report as its command line
    api = _run([release.python, "-c",
                "import json, rcsqualify; r = rcsqualify.qualify('contacts.csv', "
                "portability='portability.csv'); "
                "print(json.dumps({'file': rcsqualify.__file__, "
                "'report': r.summary.to_dict(), 'rows': len(r.rows)}))"],
               cwd=work, env=clean_env)
    seen = json.loads(api.stdout)
    assert Path(seen["file"]).parent == release.site / "rcsqualify"
    assert _comparable(seen["report"]) == _comparable(report)
    assert seen["rows"] == report["counts"]["rows"]

    monkeypatch.chdir(work)  # the same relative paths, so the same report
    source = run_cli(["check", "contacts.csv", "--portability", "portability.csv",
                      "--json-report", "-", "-q"])
    assert _comparable(report) == _comparable(json.loads(source.stdout))


def test_every_report_states_the_version(tmp_path: Path) -> None:
    """JSON, HTML, Markdown and JUnit reports all name the tool's version (the terminal
    has ``--version``; the refresh log has its own test)."""
    out = tmp_path / "out"
    result = run_cli(["check", str(ROOT / "sample_data" / "contacts.csv"), "-q",
                      "--json-report", str(out / "r.json"), "--html-report",
                      str(out / "r.html"), "--markdown-report", str(out / "r.md"),
                      "--junit-xml", str(out / "r.xml")])
    assert result.exit_code == 3, result.stderr
    version = rcsqualify.__version__
    assert json.loads((out / "r.json").read_text())["tool"]["version"] == version
    for name, said in (("r.html", f"rcsqualify {version}"), ("r.md", f"rcsqualify {version}"),
                       ("r.xml", f'name="rcsqualify" value="{version}"')):
        text = (out / name).read_text(encoding="utf-8").replace("\\.", ".")  # Markdown's
        assert said in text, name
