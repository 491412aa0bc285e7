"""Load on Slack's HTTP mode: signed `/strike ask` slash commands at rising concurrency
against `strikebot slack --workers N` on 127.0.0.1, with the fake Slack Web API taking the
answers. Prints throughput, p50/p99 ack latency, errors and answers delivered per worker
count. Not a test: nothing fails, it prints figures.

    .venv/bin/python benchmarks/load_slack.py                      # workers 1,2,4; ~2 min
    .venv/bin/python benchmarks/load_slack.py --workers 1,2 --requests 300 --concurrency 8,32
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakes.slack_api import BOT_TOKEN, RESPONSE_URL, FakeSlackAPI, slash_payload  # noqa: E402
from tests.test_slack_asgi import free_port  # noqa: E402
from tests.test_slack_http import SECRET, sign  # noqa: E402

QUESTIONS = [
    "how long has the WGA been on strike?",
    "what did the studios offer?",
    "what about AI?",
    "who is on strike?",
    "what does the guild want on residuals?",
    "is there a deal yet?",
    "what happened to the talks?",
    "who won the world cup?",
]
STRIKEBOT = [str(Path(sys.executable).with_name("strikebot"))]


class Connection(threading.local):
    """One keep-alive connection per load thread, as Slack's senders reuse theirs."""

    conn: http.client.HTTPConnection | None = None


def post(port: int, local: Connection, body: str) -> tuple[int, float]:
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(body, ts, SECRET),
    }
    start = time.perf_counter()
    try:
        if local.conn is None:
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local.conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
        response = local.conn.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        if local.conn is not None:
            local.conn.close()
        local.conn = None
        status = 0
    return status, time.perf_counter() - start


def start_server(workers: int, port: int, db: Path, api_url: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIKEBOT_", "SLACK_"))}
    env.update(
        STRIKEBOT_DB=str(db), SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url, SLACK_HOST="127.0.0.1", STRIKEBOT_LOG_LEVEL="WARNING",
        STRIKEBOT_USER_RATE="0", STRIKEBOT_CHANNEL_RATE="0", STRIKEBOT_REPEAT_WINDOW="0",
    )  # fmt: skip
    command = [*STRIKEBOT, "slack", "--port", str(port), "--workers", str(workers)]
    if workers == 1:  # one worker: the same ASGI server, not the threaded one
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "bot.adapters.slack_asgi:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server with {workers} worker(s) did not start")


def run_level(port: int, fake: FakeSlackAPI, concurrency: int, requests: int) -> dict:
    fake.clear()
    local = Connection()
    bodies = [
        urlencode(
            slash_payload(
                "/strike",
                f"ask {QUESTIONS[i % len(QUESTIONS)]}",
                user=f"U{i % 97:04d}",
                response_url=fake.response_url(f"r{i}"),
            )
        )
        for i in range(requests)
    ]
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda b: post(port, local, b), bodies))
    elapsed = time.perf_counter() - start
    deadline = time.monotonic() + 30
    while len(fake.calls_to(RESPONSE_URL)) < requests and time.monotonic() < deadline:
        time.sleep(0.05)
    answered_in = time.perf_counter() - start
    latencies = sorted(s for status, s in results if status == 200)
    errors = sum(1 for status, _ in results if status != 200)
    return {
        "rps": requests / elapsed,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else float("nan"),
        "errors": errors,
        "answered": len(fake.calls_to(RESPONSE_URL)),
        "answers_per_s": len(fake.calls_to(RESPONSE_URL)) / answered_in,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--requests", type=int, default=400, help="per concurrency level")
    args = parser.parse_args()
    workers_list = [int(w) for w in args.workers.split(",")]
    levels = [int(c) for c in args.concurrency.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="strikebot-load-"))
    db = tmp / "strikebot.db"
    subprocess.run([*STRIKEBOT, "--db", str(db), "status"], check=True, capture_output=True)
    print(f"cpus: {os.cpu_count()}  requests per level: {args.requests}  load: {os.getloadavg()}")
    print(f"{'workers':>7} {'conc':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
          f"{'answered':>8} {'answers/s':>9}")  # fmt: skip
    try:
        with FakeSlackAPI() as fake:
            for workers in workers_list:
                port = free_port()
                proc = start_server(workers, port, db, fake.api_url)
                try:
                    run_level(port, fake, 4, 40)  # warm-up
                    for concurrency in levels:
                        r = run_level(port, fake, concurrency, args.requests)
                        print(
                            f"{workers:>7} {concurrency:>5} {r['rps']:>8.0f} {r['p50']:>8.1f} "
                            f"{r['p99']:>8.1f} {r['errors']:>6} {r['answered']:>8} "
                            f"{r['answers_per_s']:>9.0f}",
                            flush=True,
                        )
                finally:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
