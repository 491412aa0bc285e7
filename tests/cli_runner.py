"""Running the `strikebot` command line as a subprocess, for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("strikebot")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot"]
TIMEOUT_S = 60

Run = Callable[..., subprocess.CompletedProcess]


def cli_env(db: Path | None, **extra: str) -> dict[str, str]:
    """The caller's environment without any strikebot, Slack or Discord setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIKEBOT_", "SLACK_", "DISCORD_"))
    }
    if db is not None:
        env["STRIKEBOT_DB"] = str(db)
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str | bytes],
    *,
    db: Path | None,
    cwd: Path,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    cmd: Sequence[str] = CLI,
    user: int | None = None,
) -> subprocess.CompletedProcess:
    """Run the CLI; stdout and stderr come back as text (undecodable bytes replaced). With
    `user` (a uid; the tests must run as root) the CLI runs as that user and its group."""
    data = input.encode("utf-8") if isinstance(input, str) else input
    as_user: dict = {} if user is None else {"user": user, "group": user, "extra_groups": []}
    proc = subprocess.run(
        [*cmd, *args],
        input=data if data is not None else b"",
        capture_output=True,
        env=cli_env(db, **(env or {})),
        cwd=cwd,  # not the repository: a developer's .env must not leak in
        timeout=TIMEOUT_S,
        **as_user,
    )
    return subprocess.CompletedProcess(
        proc.args,
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def ok(proc: subprocess.CompletedProcess) -> str:
    """The stdout of a run that must have succeeded cleanly."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def failed(proc: subprocess.CompletedProcess) -> str:
    """The stderr of a run that must have failed with a message, not a traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode != 0, f"expected a failure\nstdout: {proc.stdout}"
    assert proc.stderr.strip(), "a failure must say what is wrong"
    return proc.stderr
