"""The deployment in deploy/systemd, run as its units say: a `chroma run` store, `berita watch`
and two `berita bot` processes, each its own process, sharing nothing but the Chroma server.

systemd itself does not run in CI, so the test reads each unit's ExecStart and the shared
environment file, puts this checkout's paths and the test servers in, and starts them."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, clean_environment, free_port
from tests.site import NewsFeedSite
from tests.telegram_api import BotAPIServer

pytestmark = pytest.mark.slow  # real processes and servers: `make test-all`

UNITS = REPO / "deploy" / "systemd"


def unit_command(name: str, env: dict[str, str], root: Path) -> list[str]:
    """The unit's ExecStart with this checkout's venv, `root` for /var/lib/berita, and the
    environment's ${VARS} filled in, as systemd would."""
    unit = (UNITS / name).read_text()
    [exec_start] = re.findall(r"^ExecStart=(.+)$", unit, flags=re.MULTILINE)
    exec_start = exec_start.replace("/opt/berita/.venv/bin", str(Path(sys.executable).parent))
    exec_start = exec_start.replace("/var/lib/berita", str(root))
    return [
        re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], part) for part in shlex.split(exec_start)
    ]


def unit_environment(root: Path, **overrides: str) -> dict[str, str]:
    """deploy/systemd/berita.env as every unit reads it, with the test's own values."""
    values = {}
    for line in (UNITS / "berita.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value.replace("/var/lib/berita", str(root))
    return clean_environment() | values | overrides


@pytest.fixture
def api_servers():
    servers = [BotAPIServer(token=f"{n}00000:TEST-TOKEN-{n}") for n in (1, 2)]
    for server in servers:
        server.base = server.start()
    yield servers
    for server in servers:
        server.stop()


def test_store_watcher_and_two_bots_as_separate_processes(tmp_path, api_servers):
    with NewsFeedSite() as news:
        news.publish(7)
        env = unit_environment(
            tmp_path,
            CHROMA_PORT=str(free_port()),
            FEEDS=news.url("/news.xml"),
            FEED_INTERVAL_MIN="0.01",
            ALLOW_PRIVATE_URLS="true",
            BOT_REFRESH_S="0.5",
        )
        processes = []
        try:
            processes.append(
                subprocess.Popen(unit_command("berita-chroma.service", env, tmp_path), env=env)
            )
            heartbeat = f"http://{env['CHROMA_HOST']}:{env['CHROMA_PORT']}/api/v2/heartbeat"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(heartbeat, timeout=1).is_success:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            watch = subprocess.Popen(
                unit_command("berita-watch.service", env, tmp_path),
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            processes.append(watch)
            for line in watch.stdout:
                if "1 new" in line:
                    break
            for number, api in enumerate(api_servers, start=1):
                bot_env = env | {
                    "TELEGRAM_BOT_TOKEN": api.token,
                    "TELEGRAM_BASE_URL": f"{api.base}/bot",
                    "LEXICAL_CACHE_PATH": str(tmp_path / f"bot{number}-lexical"),
                    "EMBEDDING_CACHE_PATH": str(tmp_path / f"bot{number}-cache"),
                }
                processes.append(
                    subprocess.Popen(
                        unit_command("berita-bot.service", bot_env, tmp_path), env=bot_env
                    )
                )
                api.wait_for(lambda s: "getUpdates" in s.calls, timeout=60)

            news.publish(8)  # found by the watcher while the bots run
            for api in api_servers:
                answered = False
                deadline = time.monotonic() + 60
                while not answered and time.monotonic() < deadline:
                    count = len(api.replies_to(5))
                    api.user_says(
                        "Berapa pekerja dikerahkan untuk jalan nomor 8? kabar008", user_id=5
                    )
                    api.wait_for(lambda s, c=count: len(s.replies_to(5)) > c, timeout=30)
                    answered = "28 pekerja" in api.replies_to(5)[-1].text
                    time.sleep(0.3)
                assert answered, "a bot did not answer from the watcher's article"
            assert not (tmp_path / "chroma").joinpath("lexical").exists()  # all in the server
        finally:
            for process in reversed(processes):
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(timeout=30) for process in processes]
    assert codes[1:] == [0, 0, 0], codes  # watcher and bots stop cleanly on SIGTERM
    assert os.path.isdir(tmp_path / "chroma")  # the store's data folder from the unit
