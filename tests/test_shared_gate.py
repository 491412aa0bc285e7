"""Without ../shared, the tests that need it skip on a developer's machine and FAIL in CI
(CI=true): a silent skip there would drop the must-pass question set unnoticed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# One of each way a test needs ../shared: a `skipif` naming it (test_eval_sets.py), and
# need_shared() for the question set and for the articles.
NEED_SHARED = [
    "tests/test_eval_sets.py::test_shared_development_set_passes_in_full",
    "tests/test_cli.py::test_eval_development_set_passes",
    "tests/test_intake.py::test_the_shared_article_proposes_every_curated_figure",
    "tests/test_properties_core.py::test_noise_seeds_include_the_shared_set",
]


def outcomes(tmp_path: Path, *, ci: bool) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["STRIKEBOT_TEST_SHARED"] = str(tmp_path / "no-shared-here")
    if ci:
        env["CI"] = "true"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-o",
            "addopts=",
            "-q",
            "-p",
            "no:cacheprovider",
            *NEED_SHARED,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    summary = proc.stdout.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}
    counts["exit"] = proc.returncode
    return counts


@pytest.mark.parametrize("ci", [False, True], ids=["developer", "ci"])
def test_missing_shared_skips_for_developers_and_fails_in_ci(tmp_path: Path, ci: bool) -> None:
    got = outcomes(tmp_path, ci=ci)
    if ci:
        assert got.get("skipped", 0) == 0, got
        assert got.get("failed", 0) + got.get("error", 0) + got.get("errors", 0) == 4, got
        assert got["exit"] == 1
    else:
        assert got.get("skipped") == 4 and got["exit"] == 0, got
