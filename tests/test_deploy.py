"""The deployment files, checked without a container or systemd: the Dockerfile's entry
command and health check really run the bot, compose and the unit agree with it, and every
setting is documented."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
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


def test_the_image_runs_a_plain_install_without_the_sources():
    """The knowledge is package data: no STRIKEBOT_KNOWLEDGE_DIR into the source tree, the
    sources are removed after `pip install .`, and the bot does not run in a folder it could
    write a .env into."""
    d = dockerfile()
    assert "STRIKEBOT_KNOWLEDGE_DIR" not in env_of_image()
    copied = [part for line in d["COPY"] for part in shlex.split(line)[:-1]]
    assert {"pyproject.toml", "README.md", "LICENSE", "bot", "knowledge"} <= set(copied)
    (install,) = [r for r in d["RUN"] if "pip install" in r and "--no-deps ." in r]
    assert "-e " not in install and "--editable" not in install
    build_dir = d["WORKDIR"][0]
    assert f"rm -rf {build_dir}" in install
    assert d["WORKDIR"][-1] not in (build_dir, "/data")


def test_the_entry_command_runs_the_bot_and_the_health_check_passes(tmp_path, db_path):
    """The image's CMD with the image's environment (paths moved into tmp_path), Slack in
    HTTP mode against the fake API; the HEALTHCHECK command then reports healthy."""
    cmd = exec_form(dockerfile()["CMD"][0])
    assert cmd[0] == "strikebot"
    image_env = env_of_image()
    image_env.update(
        STRIKEBOT_DB=str(db_path),
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


def dockerignore_patterns() -> list[re.Pattern[str]]:
    """The .dockerignore patterns as regular expressions over paths from the context root
    (Docker's rules: `*` stays within a folder, `**` crosses folders)."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "exceptions are not handled by this test"
        regex = ""
        for part in re.split(r"(\*\*/?|\*|\?|\[[^\]]*\])", line.strip("/")):
            if part in ("**", "**/"):
                regex += "(?:.*/)?" if part == "**/" else ".*"
            elif part == "*":
                regex += "[^/]*"
            elif part == "?":
                regex += "[^/]"
            elif part.startswith("["):
                regex += part
            else:
                regex += re.escape(part)
        patterns.append(re.compile(regex))
    return patterns


def ignored(path: str, patterns: list[re.Pattern[str]]) -> bool:
    """A path is left out when it, or a folder above it, matches a pattern."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(p.fullmatch(prefix) for p in patterns for prefix in prefixes)


def test_dockerignore_keeps_secrets_databases_and_caches_out_of_the_build_context():
    patterns = dockerignore_patterns()
    for path in (
        ".venv/bin/python", ".env", "slack-http.env", "deploy/local.env", ".git/HEAD",
        "strikebot.db", "data/strikebot.db", "strikebot.db-wal", "strikebot.db-shm",
        "backups/strikebot.db.20260101.before-restore", "bot/__pycache__/cli.cpython-311.pyc",
        "tests/__pycache__/x.pyc", ".pytest_cache/v/cache", ".ruff_cache/x", ".hypothesis/x",
        "venv/lib/x.py", "build/lib/bot/cli.py", "dist/strikebot.whl", "strikebot.egg-info/x",
    ):  # fmt: skip
        assert ignored(path, patterns), f"{path} would be sent to the Docker daemon"
    copied = [part for line in dockerfile()["COPY"] for part in shlex.split(line)[:-1]]
    for name in copied:
        files = [p for p in (ROOT / name).rglob("*") if p.is_file()] if (ROOT / name).is_dir() \
            else [ROOT / name]  # fmt: skip
        for path in files:
            rel = path.relative_to(ROOT).as_posix()
            if "__pycache__" not in rel:
                assert not ignored(rel, patterns), f"the Dockerfile needs {rel}"


def test_compose_gives_each_service_its_own_env_file_and_never_pulls_the_local_image():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    env_files = {}
    for name, service in services.items():
        assert service["image"].startswith("strikebot:")
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        assert service["pull_policy"] in ("never", "build"), name
        files = service["env_file"]
        env_files[name] = [files] if isinstance(files, str) else files
    assert env_files["strikebot"] == ["../.env"]
    assert env_files["slack-http"] == ["../slack-http.env"]
    # The Slack HTTP service's file holds only what it needs (the example shows which).
    example = (DEPLOY / "slack-http.env.example").read_text()
    keys = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.M))
    aliases = {f.alias for f in Settings.model_fields.values()}
    assert keys <= aliases
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= keys
    assert all(k.startswith(("SLACK_", "STRIKEBOT_SLACK_")) for k in keys), keys
    assert "SLACK_APP_TOKEN" not in keys  # HTTP mode: a Socket Mode token would switch it off
    assert "slack-http.env" in (ROOT / ".gitignore").read_text().split()


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


# --- systemd ------------------------------------------------------------------------------

UNITS = ("strikebot.service", "strikebot-backup.service")
HARDENING = {
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "NoNewPrivileges": "true",
    "PrivateDevices": "true",
    "PrivateUsers": "true",
    "PrivateTmp": "true",
    "ProtectSystem": "strict",
    "ProtectHome": "true",
    "ProtectKernelTunables": "true",
    "ProtectKernelModules": "true",
    "ProtectKernelLogs": "true",
    "ProtectControlGroups": "true",
    "ProtectClock": "true",
    "ProtectHostname": "true",
    "ProtectProc": "invisible",
    "ProcSubset": "pid",
    "RestrictNamespaces": "true",
    "RestrictRealtime": "true",
    "RestrictSUIDSGID": "true",
    "LockPersonality": "true",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
}


def unit(name: str) -> dict[str, list[str]]:
    """The [Service] directives of a unit in deploy/, each with all its values in order."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in (DEPLOY / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def state_dirs(service: dict[str, list[str]]) -> list[str]:
    return [f"/var/lib/{d}" for v in service["StateDirectory"] for d in v.split()]


def env_file_lines(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", path.read_text(), re.M))


@pytest.mark.parametrize("name", UNITS)
def test_systemd_units_have_the_standard_hardening(name):
    service = unit(name)
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{name}: {key}={value} (has {service.get(key)})"
    filters = service["SystemCallFilter"]
    assert filters[0] == "@system-service" and "~@privileged @resources" in filters
    families = set(service["RestrictAddressFamilies"][0].split())
    assert families <= {"AF_INET", "AF_INET6", "AF_UNIX"}
    if name == "strikebot.service":  # Slack and Discord over the Internet, health on TCP
        assert families == {"AF_INET", "AF_INET6", "AF_UNIX"}
    else:  # a backup needs no network at all
        assert families == {"AF_UNIX"} and service["PrivateNetwork"] == ["true"]
    assert service["StateDirectory"][0].split()[0] == "strikebot"


@pytest.mark.parametrize("name", UNITS)
def test_systemd_service_cannot_rewrite_its_code_settings_or_secrets(name):
    service = unit(name)
    assert "ReadWritePaths" not in service  # StateDirectory= is the only writable place
    writable = state_dirs(service)
    assert writable and all(d.startswith("/var/lib/strikebot") for d in writable)
    executable = shlex.split(service["ExecStart"][0])
    code = [p for p in executable if p.startswith("/") and "strikebot" in p]
    code += [w for w in re.findall(r"/\S+/bin/strikebot", service["ExecStart"][0])]
    assert code
    for path in [*code, service["WorkingDirectory"][0], *service["EnvironmentFile"]]:
        assert not any(path.startswith(d) for d in writable), f"{name}: {path} is writable"
    assert all(f.startswith("/etc/strikebot/") for f in service["EnvironmentFile"])
    for assignment in service.get("Environment", []):
        assert not assignment.startswith(("SLACK_", "DISCORD_")), "secrets go in secrets.env"
    setup = (DEPLOY / "strikebot.service").read_text()
    assert "install -m 600 /dev/null /etc/strikebot/secrets.env" in setup
    if name == "strikebot.service":
        assert "/etc/strikebot/secrets.env" in service["EnvironmentFile"]
    else:  # the backup gets no tokens
        assert service["EnvironmentFile"] == ["/etc/strikebot/strikebot.env"]


def documented_score(name: str) -> float:
    text = (DEPLOY / name).read_text()
    match = re.search(rf"`systemd-analyze security {re.escape(name)}`: (\d+\.\d)", text)
    assert match, f"{name} gives its systemd-analyze security score"
    score = float(match.group(1))
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"`{re.escape(name)}`[^\n]*\b{match.group(1)}\b", readme), name
    return score


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_security_gives_the_documented_score(name, tmp_path):
    score = documented_score(name)
    assert score <= 2.0
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here; the directives are checked above")
    shutil.copy(DEPLOY / name, tmp_path / name)
    done = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", name],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if "--offline" in done.stderr and "unrecognized" in done.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) == score


def test_the_systemd_health_check_reads_the_port_from_the_services_env_file(tmp_path, db_path):
    """`strikebot healthcheck --ready` as the unit documents it reads the same EnvironmentFile
    as the service: run the bot with that file's settings (paths moved into tmp_path), then
    the documented command, with nothing else in its environment, finds it ready."""
    service = unit("strikebot.service")
    settings_file = "/etc/strikebot/strikebot.env"
    assert settings_file in service["EnvironmentFile"]
    assert not any(a.startswith("STRIKEBOT_") for a in service.get("Environment", []))
    shipped = DEPLOY / "strikebot.env"
    header = (DEPLOY / "strikebot.service").read_text()
    assert f"install -m 644 deploy/strikebot.env {settings_file}" in header
    settings = env_file_lines(shipped)
    assert settings["STRIKEBOT_HEALTH_PORT"].isdigit()
    for line in shipped.read_text().splitlines():  # the same for systemd and for sh
        assert not line or line.startswith("#") or re.fullmatch(r"[A-Z0-9_]+=[\w./:,@-]*", line)
    (check,) = re.findall(r"^#\s+(sudo -u strikebot sh -c .*healthcheck --ready.*)$", header, re.M)
    script = shlex.split(check)[shlex.split(check).index("-c") + 1]
    assert f". {settings_file};" in script
    # The shipped file with this test's paths and a free port, where the unit reads it.
    local = tmp_path / "strikebot.env"
    settings.update(STRIKEBOT_DB=str(db_path), STRIKEBOT_HEALTH_PORT=str(free_port()))
    local.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    script = script.replace(settings_file, str(local))
    script = re.sub(r"\S+/bin/strikebot", shlex.join(CLI), script)
    with FakeSlackAPI() as fake:
        bot_env = cli_env(
            None, **settings, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url, SLACK_HOST="127.0.0.1", SLACK_PORT="0",
        )  # fmt: skip
        exec_start = shlex.split(service["ExecStart"][0])
        proc = subprocess.Popen(
            [*CLI, *exec_start[1:]], cwd=tmp_path, env=bot_env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 40
            while True:
                check_run = subprocess.run(
                    ["sh", "-c", script], cwd=tmp_path, env=cli_env(None),
                    capture_output=True, text=True, timeout=30,
                )  # fmt: skip
                if check_run.returncode == 0:
                    break
                assert "STRIKEBOT_HEALTH_PORT is not set" not in check_run.stderr
                assert time.monotonic() < deadline and proc.poll() is None, check_run.stderr
                time.sleep(0.2)
            assert check_run.stdout.startswith("ok: store ok")
            assert "slack connected" in check_run.stdout
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
