"""Shared fixtures: a fresh database per test, and the bot over the bundled knowledge."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.core.admin import Actor, AdminService
from bot.core.service import BotConfig, StrikeBot
from bot.settings import BUNDLED_KNOWLEDGE
from bot.store.db import Store
from tests.cli_runner import CLI, Run, run_cli

REPO = Path(__file__).resolve().parent.parent
# The shared folder beside the checkout (the must-pass question set, the source articles);
# STRIKEBOT_TEST_SHARED points elsewhere (a worktree, or a test of this gate).
SHARED = Path(os.environ.get("STRIKEBOT_TEST_SHARED") or REPO.parent / "shared")
SHARED_MISSING = "../shared is not beside the checkout"
DATA = Path(__file__).resolve().parent / "data"
TODAY = dt.date(2023, 9, 12)


def in_ci() -> bool:
    """Running in CI (CI=true, as GitHub Actions and most CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def shared_missing(detail: str) -> None:
    """A test cannot run without ../shared: skipped on a developer's machine, FAILED in CI
    (where a silent skip would drop the must-pass question set without anyone noticing)."""
    message = f"{SHARED_MISSING}: {detail}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: it must be there)", pytrace=False)
    pytest.skip(message)


def need_shared(*parts: str) -> Path:
    """The path `parts` under ../shared, or shared_missing() when it is not there. Every test
    that needs ../shared goes through this."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        shared_missing(f"{path} is missing")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """In CI, a test skipped because ../shared is missing fails instead, however it skipped
    (need_shared, or a `skipif` whose reason names ../shared)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and SHARED_MISSING in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: {SHARED_MISSING} (CI=true: it must be there)"


@pytest.fixture(scope="session")
def synced_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the schema and the bundled knowledge, built once per test session."""
    path = tmp_path_factory.mktemp("template") / "strikebot.db"
    store = Store(path)
    StrikeBot(store, BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE))
    store.close()
    return path


@pytest.fixture
def db_path(tmp_path: Path, synced_template: Path) -> Path:
    """The bot's database for one test: a fresh copy of the synced template."""
    path = tmp_path / "strikebot.db"
    shutil.copyfile(synced_template, path)
    return path


@pytest.fixture
def fresh_store(tmp_path: Path) -> Store:
    """An empty, migrated store of its own (not the bot's)."""
    store = Store(tmp_path / "empty.db")
    yield store
    store.close()


@pytest.fixture
def config() -> BotConfig:
    return BotConfig(knowledge_dir=BUNDLED_KNOWLEDGE)


@pytest.fixture
def bot(db_path: Path, config: BotConfig) -> StrikeBot:
    """The bot over the bundled knowledge, with 'today' the day after the article."""
    store = Store(db_path)
    yield StrikeBot(store, config, today=lambda: TODAY)
    store.close()


@pytest.fixture
def admin(bot: StrikeBot) -> AdminService:
    return AdminService(bot)


@pytest.fixture
def root() -> Actor:
    return Actor(id="tester", platform="test", is_admin=True)


@pytest.fixture
def member() -> Actor:
    return Actor(id="member", platform="test", is_admin=False)


@pytest.fixture
def run(tmp_path: Path, db: Path) -> Run:
    """run(*args, input=None, db=<the test module's `db`>, env=None, cmd=CLI, cwd=tmp_path,
    user=None): the CLI as a subprocess, its output as text."""

    def _run(
        *args: str | bytes,
        input: str | bytes | None = None,
        db: Path | None = db,
        env: dict[str, str] | None = None,
        cmd: Sequence[str] = CLI,
        cwd: Path = tmp_path,
        user: int | None = None,
    ) -> subprocess.CompletedProcess:
        return run_cli(args, db=db, cwd=cwd, input=input, env=env, cmd=cmd, user=user)

    return _run


NOBODY = 65534  # the unprivileged user (and group) of Debian, Ubuntu and Alpine


@contextmanager
def unwritable_folder(parent: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A folder the CLI cannot write into, even when the tests run as root (as CI does), and
    the extra arguments for `run` that make it so.

    Not root: a folder of mode 0555. Root ignores permission bits; there the folder gets the
    immutable attribute (`chattr +i`, which root cannot write past either) where the file
    system and the capabilities allow it, and otherwise the CLI runs as `nobody` (the child
    drops root before it starts) in a root-owned folder of mode 0555, under a fresh folder
    of the system's temporary folder that nobody can reach (pytest's are private to root)."""
    if os.geteuid() != 0:
        folder = parent / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        try:
            yield folder, {}
        finally:
            folder.chmod(0o755)
        return
    folder = parent / "immutable"
    folder.mkdir()
    chattr = shutil.which("chattr")
    if chattr and not subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode:
        try:
            yield folder, {}
        finally:
            subprocess.run([chattr, "-i", str(folder)], check=True)
        return
    base = Path(tempfile.mkdtemp(prefix="strikebot-unwritable-"))
    try:
        base.chmod(0o755)
        folder = base / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        probe = subprocess.run(
            [sys.executable, "-c", "import bot"], user=NOBODY, group=NOBODY, extra_groups=[],
            cwd=base, capture_output=True, text=True,
        )  # fmt: skip
        if probe.returncode:
            pytest.fail(
                "running as root without chattr +i, and `nobody` cannot run this Python "
                f"({probe.stderr.strip()[-200:]}): no way to make a folder unwritable",
                pytrace=False,
            )
        yield folder, {"user": NOBODY, "cwd": base}
    finally:
        shutil.rmtree(base, ignore_errors=True)
