"""One process opens an embedded store folder: the owner (the bot or `berita watch`) serves it
through `chroma run`, every other berita process talks to that server, a lone process hands
the folder over, and a killed owner is replaced. Real processes throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BERITA, SEED, run_berita

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")


def _openers(folder: Path) -> list[str]:
    """The command lines of the processes that have the folder's Chroma database open."""
    database = str(folder / "chroma.sqlite3")
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if database in links:
            found.append(command)
    return found


def _owner(folder: Path, timeout_s: float = 60) -> dict:
    """The owner record once the owner's server is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return json.loads((folder / "owner.json").read_text())
        except (OSError, ValueError):
            time.sleep(0.2)
    pytest.fail("no owner started")


def _gone(pid: int, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def _watch(env: dict[str, str]) -> subprocess.Popen:
    """`berita watch` with no feed: a long-lived process that serves the store."""
    return subprocess.Popen(
        [BERITA, "watch"],
        env=env | {"FEED_INTERVAL_MIN": "60"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _articles(path: Path, count: int) -> str:
    towns = ["Garut", "Bandung", "Bogor", "Cianjur", "Sumedang", "Tasikmalaya", "Bekasi"]
    records = [
        {
            "id": f"art-{n}",
            "title": f"Banjir di {towns[n % len(towns)]} hari ke-{n}",
            "text": f"Banjir merendam {100 + n} rumah di {towns[n % len(towns)]} pada hari ke-{n}. "
            f"Sebanyak {20 + n} warga mengungsi ke balai desa nomor {n}. "
            f"Petugas membuka dapur umum ke-{n} di kecamatan itu.",
        }
        for n in range(count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_the_owner_serves_the_folder_and_nobody_else_opens_it(cli_env, settings):
    folder = settings.chroma_path
    owner = _watch(cli_env)
    try:
        record = _owner(folder)
        assert record["pid"] == owner.pid
        ingested = subprocess.Popen(
            [BERITA, "ingest", str(SEED)], env=cli_env, stdout=subprocess.PIPE, text=True
        )
        asked = run_berita(cli_env, "ask", "--json", "which countries left CSTO?")
        assert ingested.wait(timeout=120) == 0
        assert ingested.stdout and ingested.stdout.read().startswith("1 added")
        openers = _openers(folder)  # the owner's `chroma run`, and nothing else
        assert len(openers) == 1 and " run --path " in openers[0], openers
        assert asked.returncode == 0, asked.stderr
        again = run_berita(cli_env, "ask", "--json", "which countries left CSTO?")
        assert "Uzbekistan" in json.loads(again.stdout)["answer"]
        assert _openers(folder) == openers
    finally:
        _stop(owner)
    assert _gone(record["server_pid"])  # its server stops with it
    assert not (folder / "owner.json").exists()


def test_a_killed_owner_is_replaced_without_anyone_doing_anything(cli_env, settings):
    folder = settings.chroma_path
    first = _watch(cli_env)
    record = _owner(folder)
    assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert _gone(record["server_pid"])  # the server died with its owner (kill -9)
    assert "seed-csto-armenia" in run_berita(cli_env, "sources").stdout  # alone, under the lock
    second = _watch(cli_env)
    try:
        assert _owner(folder)["pid"] == second.pid
        listed = run_berita(cli_env, "sources")
        assert listed.stdout.startswith("seed-csto-armenia\t")
        assert len(_openers(folder)) == 1
    finally:
        _stop(second)


def test_two_serving_processes_make_one_owner(cli_env, settings):
    watches = [_watch(cli_env), _watch(cli_env)]
    try:
        record = _owner(settings.chroma_path)
        time.sleep(3)  # the other one found the owner and became its client
        assert record["pid"] in {w.pid for w in watches}
        assert all(w.poll() is None for w in watches)
        assert len(_openers(settings.chroma_path)) == 1
    finally:
        for watch in watches:
            _stop(watch)


def test_a_lone_ingest_hands_the_folder_over_to_an_owner_that_starts(cli_env, settings, tmp_path):
    folder = settings.chroma_path
    source = _articles(tmp_path / "many.jsonl", 40)
    ingesting = subprocess.Popen(
        [BERITA, "ingest", source], env=cli_env, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not _openers(folder) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ingesting.poll() is None and "ingest" in _openers(folder)[0]  # it holds the folder
    owner = _watch(cli_env)
    try:
        record = _owner(folder)
        assert ingesting.poll() is None, "the ingest ended before handing over"
        assert record["pid"] == owner.pid
        out, _ = ingesting.communicate(timeout=300)
        assert ingesting.returncode == 0
        assert out.startswith("40 added, 0 updated, 0 unchanged, 0 failed")
        assert len(run_berita(cli_env, "sources").stdout.splitlines()) == 40
        assert len(_openers(folder)) == 1
    finally:
        _stop(owner)
