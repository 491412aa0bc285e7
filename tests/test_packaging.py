"""A plain, non-editable install knows the bundled facts: the wheel carries `knowledge/`
(every *.yaml and *.md at any depth) as package data, and `strikebot status`, run from
another folder on a fresh database, answers from it.

The wheel is built from a copy of the files a release is built from (so a file the build
forgets is missed here too) and installed into a new virtual environment; only the pinned
dependencies are borrowed from the test environment (a path entry, no editable finder, no
source tree), which keeps the test to seconds instead of minutes.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.cli_runner import cli_env

pytestmark = pytest.mark.packaging  # runs everywhere, CI included; `-m "not packaging"` skips

REPO = Path(__file__).resolve().parent.parent
# What `pip install .` and `python -m build` read; nothing else of the checkout.
RELEASE_FILES = ("pyproject.toml", "README.md", "LICENSE", "bot", "knowledge")
PROBE = Path("zz-packaging-probe") / "deep" / "deeper"  # nested files the wheel must carry
TIMEOUT_S = 240
MIN_SETUPTOOLS = 77  # pyproject.toml [build-system]: the SPDX `license = "MIT"`


def knowledge_files(root: Path) -> set[str]:
    """Every *.yaml and *.md under `root`, relative to it."""
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".yaml", ".md")
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release files in a folder of their own, plus nested probe files in knowledge/."""
    root = tmp_path_factory.mktemp("source")
    for name in RELEASE_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root / name)
    probe = root / "knowledge" / PROBE
    probe.mkdir(parents=True)
    (probe / "probe.yaml").write_text("# packaging probe\n")
    (probe / "PROBE.md").write_text("packaging probe\n")
    return root


def offline_backend() -> bool:
    """Whether this environment has the build backend pyproject.toml asks for
    (requirements-dev.lock pins it), so that the wheel builds without a package index."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return major >= MIN_SETUPTOOLS


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built as `pip wheel .` does: with this environment's setuptools and no
    package index; an older environment falls back to pip's isolated build."""
    out = tmp_path_factory.mktemp("dist")
    how = ["--no-build-isolation", "--no-index"] if offline_backend() else []
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *how, "-q", "-w", str(out),
         str(source)],
        timeout=TIMEOUT_S, capture_output=True, text=True, cwd=out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("strikebot-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed; returns its `strikebot`."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True, timeout=TIMEOUT_S, capture_output=True,
    )  # fmt: skip
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout.strip()
    )  # fmt: skip
    # The probes proved the packaging; they are not knowledge the bot should read.
    shutil.rmtree(site / "bot" / "knowledge" / PROBE.parts[0], ignore_errors=True)
    # The dependencies, as a plain path entry after the venv's own site-packages: the .pth
    # files there (the editable install of the checkout) are not processed.
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin" / "strikebot"


def test_the_wheel_carries_every_knowledge_file_at_any_depth(wheel: Path, source: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.removeprefix("bot/knowledge/") for n in names if n.startswith("bot/knowledge/")}
    expected = knowledge_files(source / "knowledge")
    assert f"{PROBE.as_posix()}/probe.yaml" in expected
    assert expected <= shipped, sorted(expected - shipped)
    code = {p.relative_to(source).as_posix() for p in (source / "bot").rglob("*.py")}
    assert code <= names, sorted(code - names)


def test_the_license_is_an_spdx_expression_with_its_file(wheel: Path):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert f"setuptools>={MIN_SETUPTOOLS}" in project["build-system"]["requires"]
    archive = zipfile.ZipFile(wheel)
    (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    headers = archive.read(metadata).decode().split("\n\n", 1)[0].splitlines()
    assert "License-Expression: MIT" in headers
    assert not any(h.startswith("License:") for h in headers)  # the deprecated table form
    (license_file,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    text = archive.read(license_file).decode()
    assert text.startswith("MIT License") and "Copyright (c) 2026 strikebot contributors" in text


def test_a_plain_install_answers_status_from_the_bundled_facts(installed: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = cli_env(tmp_path / "fresh.db")
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{installed.parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [str(installed), "status"], cwd=elsewhere, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "130 days" in done.stdout and "Source:" in done.stdout, done.stdout
    assert "WARNING" not in done.stderr, done.stderr
    where = subprocess.run(
        [str(installed.with_name("python")), "-c",
         "from bot.settings import Settings; print(Settings(_env_file=None).knowledge_dir)"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    knowledge = Path(where.stdout.strip())
    assert knowledge.is_relative_to(installed.parent.parent), knowledge  # not the checkout
