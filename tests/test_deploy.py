"""The deployment files, checked without a container or systemd: the Dockerfile's entry
command and health check really run the bot, compose and the unit agree with it, and every
setting is documented."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import yaml

from bot.settings import Settings
from tests.cli_runner import CLI, cli_env
from tests.fakes.slack_api import BOT_TOKEN, FakeSlackAPI
from tests.test_slack_asgi import free_port
from tests.test_slack_http import SECRET

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def dockerfile() -> dict[str, list[str]]:
    """Instructions of deploy/Dockerfile by keyword (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.setdefault(keyword.upper(), []).append(rest.strip())
    return found


def exec_form(value: str) -> list[str]:
    return json.loads(value) if value.startswith("[") else shlex.split(value)


def env_of_image() -> dict[str, str]:
    (line,) = dockerfile()["ENV"]
    return dict(part.split("=", 1) for part in shlex.split(line))


def test_image_is_slim_non_root_with_a_data_volume_and_a_health_check():
    d = dockerfile()
    assert d["FROM"] == ["python:3.11-slim"]
    assert d["USER"] and d["USER"][-1] not in ("root", "0")
    assert json.loads(d["VOLUME"][0]) == ["/data"]
    env = env_of_image()
    assert env["STRIKEBOT_DB"].startswith("/data/")
    assert env["STRIKEBOT_HEALTH_PORT"] and env["STRIKEBOT_HEALTH_HOST"] == "0.0.0.0"
    health = d["HEALTHCHECK"][0]
    assert exec_form(health[health.index("CMD") + 4 :]) == ["strikebot", "healthcheck"]
    assert exec_form(d["CMD"][0]) == ["strikebot", "run", "--no-console"]
    copied = " ".join(d["COPY"])
    assert "requirements.lock" in copied and "knowledge" in copied


def test_the_entry_command_runs_the_bot_and_the_health_check_passes(tmp_path, db_path):
    """The image's CMD with the image's environment (paths moved into tmp_path), Slack in
    HTTP mode against the fake API; the HEALTHCHECK command then reports healthy."""
    cmd = exec_form(dockerfile()["CMD"][0])
    assert cmd[0] == "strikebot"
    image_env = env_of_image()
    image_env.update(
        STRIKEBOT_DB=str(db_path), STRIKEBOT_KNOWLEDGE_DIR=str(ROOT / "knowledge"),
        STRIKEBOT_HEALTH_HOST="127.0.0.1", STRIKEBOT_HEALTH_PORT=str(free_port()),
        SLACK_HOST="127.0.0.1", SLACK_PORT="0",
    )  # fmt: skip
    with FakeSlackAPI() as fake:
        env = cli_env(
            None, **image_env, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
        )  # fmt: skip
        proc = subprocess.Popen(
            [*CLI, *cmd[1:]], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 40
            while True:
                check = subprocess.run(
                    [*CLI, "healthcheck", "--ready"], cwd=tmp_path, env=env,
                    capture_output=True, text=True, timeout=30,
                )  # fmt: skip
                if check.returncode == 0:
                    break
                assert time.monotonic() < deadline and proc.poll() is None, check.stderr
                time.sleep(0.2)
            assert check.stdout.startswith("ok: store ok") and "slack connected" in check.stdout
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        after = subprocess.run(
            [*CLI, "healthcheck"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
        assert after.returncode == 1 and "unhealthy: no answer" in after.stderr
    logs = proc.stderr.read() if proc.stderr else ""
    assert all(line.startswith("{") for line in logs.splitlines() if line.strip())


def test_compose_builds_the_image_with_the_volume_and_waits_past_the_grace_period():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    main = compose["services"]["strikebot"]
    assert main["build"]["dockerfile"] == "deploy/Dockerfile"
    assert any(v.endswith(":/data") for v in main["volumes"])
    assert main["healthcheck"]["test"] == ["CMD", "strikebot", "healthcheck"]
    grace = Settings(_env_file=None).shutdown_grace
    assert int(main["stop_grace_period"].rstrip("s")) > grace
    workers = compose["services"]["slack-http"]
    assert workers["command"][:2] == ["strikebot", "slack"] and "--workers" in workers["command"]
    assert set(compose["volumes"]) == {"strikebot-data"}


def test_systemd_unit_runs_the_bot_and_stops_it_gracefully():
    unit = (DEPLOY / "strikebot.service").read_text()
    assert re.search(r"^ExecStart=\S+/strikebot run --no-console$", unit, re.M)
    assert "KillSignal=SIGTERM" in unit
    timeout = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1))
    assert timeout > Settings(_env_file=None).shutdown_grace
    backup = (DEPLOY / "strikebot-backup.service").read_text()
    assert "strikebot backup" in backup


def test_every_setting_is_documented_in_env_example_with_its_default():
    text = (ROOT / ".env.example").read_text()
    documented = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, re.M))
    defaults = Settings(_env_file=None)
    for name, field in Settings.model_fields.items():
        assert field.alias in documented, f"{field.alias} is not in .env.example"
        value = getattr(defaults, name)
        shown = documented[field.alias]
        if shown and value is not None and not hasattr(value, "get_secret_value"):
            expected = str(value).lower() if isinstance(value, bool) else str(value)
            assert shown in (expected, expected.removesuffix(".0")), field.alias
