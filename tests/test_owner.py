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

from tests.conftest import BERITA, SEED, flood_articles, run_berita

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
    source = flood_articles(tmp_path / "many.jsonl", 40)
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


def _ask_batch(env: dict[str, str], questions: str) -> list[dict]:
    """Every answer of `berita ask --batch --json`; the run must not fail."""
    done = run_berita(env, "ask", "--batch", questions, "--json", "--k", "5")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _ranking(answers: list[dict]) -> list[list[str]]:
    return [[f"{p['doc_id']}#{p['chunk']}" for p in answer["passages"]] for answer in answers]


@pytest.mark.slow
def test_soak_readers_writers_a_remove_a_watcher_and_kill_9(cli_env, settings, tmp_path):
    """Everything at once on the embedded default: a watcher polling a local feed (the owner),
    two ingests, readers, a remove, and a kill -9 of one ingest and of the watcher, each
    restarted. Then the same batches again: Chroma's own integrity, exactly the expected
    articles, and rankings equal to a clean store's."""
    from berita.answer.components import open_store
    from tests.site import NewsFeedSite

    folder = settings.chroma_path
    batch_a = flood_articles(tmp_path / "a.jsonl", 20, "a")
    batch_b = flood_articles(tmp_path / "b.jsonl", 20, "b")
    questions = tmp_path / "questions.jsonl"
    asked = [f"Berapa rumah terendam pada hari ke-{n}?" for n in range(0, 20, 4)]
    asked += [f"Apa kabar{n:03d}?" for n in range(0, 12, 6)]
    questions.write_text("".join(json.dumps({"question": q}) + "\n" for q in asked), "utf-8")
    with NewsFeedSite() as news:
        for number in range(12):
            news.publish(number)
        env = cli_env | {"FEEDS": news.url("/news.xml"), "FEED_INTERVAL_MIN": "0.01"}
        watch = subprocess.Popen([BERITA, "watch"], env=env, stderr=subprocess.DEVNULL)
        _owner(folder)
        writers = [
            subprocess.Popen([BERITA, "ingest", batch], env=env, stdout=subprocess.PIPE, text=True)
            for batch in (batch_a, batch_b)
        ]
        _ask_batch(env, str(questions))  # readers while everyone writes
        writers[1].send_signal(signal.SIGKILL)  # one writer killed mid-run, then run again
        writers[1].wait(timeout=30)
        writers[1] = subprocess.Popen([BERITA, "ingest", batch_b], env=env, stdout=subprocess.PIPE)
        watch.send_signal(signal.SIGKILL)  # the owner killed: someone else takes over
        watch.wait(timeout=30)
        _ask_batch(env, str(questions))
        watch = subprocess.Popen([BERITA, "watch"], env=env, stderr=subprocess.DEVNULL)
        assert writers[0].wait(timeout=300) == 0
        assert run_berita(env, "remove", "a-0", "a-1", "a-2").returncode == 0
        assert writers[1].wait(timeout=300) == 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            stored = run_berita(env, "sources").stdout.count("Perbaikan jalan nomor")
            if stored == 12:
                break
            time.sleep(1)
        _ask_batch(env, str(questions))
        _stop(watch)
        assert not _openers(folder)

        again = [run_berita(cli_env, "ingest", batch).stdout for batch in (batch_a, batch_b)]
        assert again[0].startswith("3 added, 0 updated, 17 unchanged, 0 failed")
        assert again[1].startswith("0 added, 0 updated, 20 unchanged, 0 failed")
        answers = _ask_batch(cli_env, str(questions))

        store = open_store(settings)
        ids, vectors = [], []
        for page in store.iter_passages(include=("embeddings",)):
            ids += page["ids"]
            vectors += list(page["embeddings"])
        sources = store.sources()
        assert len(sources) == 52 and len(ids) == store.count() == 52
        for passage_id, vector in zip(ids, vectors, strict=True):  # get and query agree
            found = store.collection.query(query_embeddings=[vector], n_results=3, include=[])
            assert passage_id in found["ids"][0]
        assert sorted(store.lexical().ids) == sorted(ids)
        store.close()

        clean = cli_env | {"CHROMA_PATH": str(tmp_path / "clean")}
        for source in (batch_a, batch_b, news.url("/news.xml")):
            assert run_berita(clean, "ingest", source).returncode == 0
        assert _ranking(_ask_batch(clean, str(questions))) == _ranking(answers)


def test_an_owner_gone_while_a_write_opens_its_collection_is_connected_to_again(settings):
    """The owner's server went away just as a writer, holding the write lock, re-read the
    collection: the article is stored once the writer has connected again, not failed."""
    import httpx

    from berita.answer.components import open_store
    from berita.ingest.config import IngestConfig
    from berita.ingest.pipeline import ingest

    store = open_store(settings)
    gone = store.client
    real = gone.get_collection
    calls = []

    def refused_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return real(*args, **kwargs)

    gone.get_collection = refused_once
    summary = ingest([str(SEED)], store, IngestConfig.from_settings(settings))
    assert (summary.added, summary.failures) == (1, [])
    assert calls and store.client is not gone
    assert store.count() == 4
