"""Conversations: follow-ups read with their thread's latest turn, threads bounded in number
and time, and `ask --batch` answering a "conversation" as one thread."""

from __future__ import annotations

import json

import numpy as np
import pytest

from berita.answer.answerer import ArticlesRead
from berita.answer.components import open_answerer, open_store
from berita.answer.conversation import Threads, Turn, leans_on_thread
from berita.ingest.config import IngestConfig
from berita.ingest.pipeline import ingest
from tests.conftest import FLOODS, run_berita


@pytest.mark.parametrize(
    "question",
    [
        "Berapa korban tewasnya?",
        "Kapan itu terjadi?",
        "Kalau di Sumedang?",
        "Who said that?",
        "And how many people died there?",
        "Who is the president of that country?",
        "Siapa yang memintanya mundur dari jabatan ketua umum partai?",
    ],
)
def test_follow_ups_lean_on_the_thread(question):
    assert leans_on_thread(question)


@pytest.mark.parametrize(
    "question",
    [
        "Berapa rumah terendam banjir bandang di Garut pada April 2024?",
        "Which actress started the rumour that Harvey Weinstein was at the hotel?",
        "Siapa yang akhirnya memenangkan pemilihan presiden Amerika Serikat?",
        "Negara mana saja yang keluar dari CSTO sebelumnya selain Armenia?",
    ],
)
def test_questions_that_name_their_subject_stand_alone(question):
    assert not leans_on_thread(question)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_thread_is_forgotten_after_its_time_out_or_on_new():
    clock = Clock()
    threads = Threads(timeout_s=600, clock=clock)
    threads.add("chat", Turn("Berapa rumah terendam?", "1.200 rumah", "garut"))
    threads.add("chat", Turn("Berapa umurnya?"))  # refused: the answered turn stays the context
    assert threads.context("chat") == Turn("Berapa rumah terendam?", "1.200 rumah", "garut")
    clock.now = 599
    assert threads.context("chat") is not None
    clock.now = 601
    assert threads.context("chat") is None
    threads.add("chat", Turn("Siapa bupatinya?", "Rudy Gunawan", "garut"))
    assert threads.context("chat").question == "Siapa bupatinya?"  # the old turns are gone
    threads.forget("chat")
    assert threads.context("chat") is None
    assert Threads(timeout_s=0).context("chat") is None  # CONVERSATION_TIMEOUT_MIN=0: no threads


def test_a_thread_whose_questions_were_all_refused_leans_on_its_latest():
    threads = Threads(timeout_s=600)
    threads.add("chat", Turn("Berapa ATM BCA yang offline?"))
    threads.add("chat", Turn("Kapan satelitnya jatuh?"))
    assert threads.context("chat") == Turn("Kapan satelitnya jatuh?")  # it still names the subject


def test_ten_thousand_idle_chats_are_forgotten_and_memory_stays_flat():
    import tracemalloc

    clock = Clock()
    threads = Threads(timeout_s=600, max_threads=10_000, clock=clock)

    def turn() -> Turn:  # each its own, with the vector a real turn keeps
        return Turn("Berapa rumah terendam?", "1.200 rumah", "garut", np.ones(384, np.float16))

    tracemalloc.start()
    for chat in range(20_000):
        threads.add(chat, turn())
    full = tracemalloc.get_traced_memory()[0]
    for chat in range(20_000, 60_000):  # four times as many more chats than it keeps
        threads.add(chat, turn())
    grown = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(threads) == 10_000 and threads.context(0) is None
    assert grown < full * 1.1
    clock.now = 700  # ten minutes later they are all idle: the next turn sweeps them away
    threads.add("new", turn())
    assert len(threads) == 1


def test_a_reply_to_an_answer_continues_its_thread():
    threads = Threads(timeout_s=600)
    threads.add(("message", 7, 100), Turn("Berapa rumah terendam?", "1.200 rumah", "garut"))
    threads.link(("message", 7, 101), ("message", 7, 100))  # the bot's answer to message 100
    assert threads.thread_of(("message", 7, 101)) == ("message", 7, 100)
    assert threads.thread_of(("message", 7, 555)) is None
    threads.add(threads.thread_of(("message", 7, 101)), Turn("Berapa korban tewasnya?"))
    assert threads.context(("message", 7, 100)).doc_id == "garut"


@pytest.fixture
def floods(settings):
    ingest([str(FLOODS)], open_store(settings), IngestConfig.from_settings(settings))
    return open_answerer(settings)


def test_a_follow_up_is_answered_from_its_threads_article(floods):
    first = floods.ask("Berapa rumah terendam banjir bandang di Garut?")
    assert "1.200 rumah" in first.answer and first.citations[0] == "garut"
    follow_up = floods.ask("Berapa korban tewasnya?", context=first.turn())
    assert follow_up.follows == first.turn()
    assert follow_up.answer.startswith("Badan Penanggulangan Bencana Daerah mencatat 23 orang")
    assert follow_up.citations[0] == "garut"  # not Sumedang's "7 orang tewas"
    alone = floods.ask("Berapa korban tewasnya?")  # which victims? nothing says
    assert alone.abstained and alone.follows is None


def test_a_follow_up_reads_its_threads_article_at_once_and_embeds_only_itself(floods):
    first = floods.ask("Berapa rumah terendam banjir bandang di Garut?")
    turn = first.turn()
    assert turn.vector.dtype == np.float16 and turn.vector.shape == (384,)
    embeddings = floods.retriever.store.embeddings
    embedded: list[str] = []
    embed_query = embeddings.embed_query
    embeddings.embed_query = lambda text: embedded.append(text) or embed_query(text)
    follow_up = floods.ask("Berapa korban tewasnya?", context=turn)
    assert embedded == ["Berapa korban tewasnya?"]  # the earlier question's vector is kept
    blended = np.asarray(embed_query("Berapa korban tewasnya?")) + turn.vector
    assert np.allclose(follow_up.query_vector, blended / np.linalg.norm(blended), atol=1e-6)
    # the thread's article is read first, sentence by sentence, without re-ranking passages
    assert follow_up.passages[0].document.metadata["doc_id"] == "garut"
    assert all(passage.reader is None for passage in follow_up.passages)


def test_a_follow_up_naming_a_place_its_article_never_says_leaves_that_article(floods):
    first = floods.ask("Berapa rumah terendam banjir bandang di Garut?")
    moved = floods.ask("Kalau di Sumedang?", context=first.turn())
    assert moved.follows == first.turn()
    assert "garut" not in moved.citations  # Sumedang's landslide flooded no house: refused


def test_a_name_no_article_says_leaves_the_threads_weight_as_it_is(floods):
    turn = floods.ask("Berapa rumah terendam banjir bandang di Garut?").turn()
    articles = ArticlesRead(floods.retriever.store)
    weights = floods._on_thread(  # "Reuters" tells nothing about which article is meant
        "Berapa korban tewasnya menurut Reuters?", turn, {"garut", "sumedang"}, articles
    )
    assert weights["garut"] == 1.0 and weights["sumedang"] < 1.0
    moved = floods._on_thread("Kalau di Sumedang?", turn, {"garut", "sumedang"}, articles)
    assert moved["garut"] == 0


def test_a_question_that_stands_alone_ignores_the_thread(floods):
    first = floods.ask("Berapa rumah terendam banjir bandang di Garut?")
    moved = floods.ask(
        "Berapa rumah tertimbun longsor di Kecamatan Cimanggung, Sumedang?", context=first.turn()
    )
    assert moved.follows is None and moved.citations[0] == "sumedang"
    assert "30 rumah tertimbun" in moved.answer


def test_batch_lines_of_one_conversation_are_one_thread(cli_env, tmp_path):
    assert run_berita(cli_env, "ingest", str(FLOODS)).returncode == 0
    lines = [
        {"id": "1", "conversation": "a", "question": "Berapa rumah terendam banjir di Garut?"},
        {"id": "2", "conversation": "b", "question": "Berapa rumah tertimbun longsor di Sumedang?"},
        {"id": "3", "conversation": "a", "question": "Berapa korban tewasnya?"},
        {"id": "4", "question": "Berapa korban tewasnya?"},
        {"id": "5", "conversation": ["a"], "question": "Berapa korban tewasnya?"},
        {"id": "6", "conversation": 0, "question": "Berapa rumah terendam banjir di Garut?"},
        {"id": "7", "conversation": 0, "question": "Berapa korban tewasnya?"},
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    done = run_berita(cli_env, "ask", "--batch", str(batch))
    assert done.returncode == 1  # the malformed line fails the run; the others are answered
    assert done.stderr == f'berita: {batch}:5: expected "conversation" as text or a number\n'

    answers = {r["id"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert answers["3"]["follows_up"] and "23 orang tewas" in answers["3"]["answer"]
    assert answers["3"]["citations"] == ["garut"]
    assert not answers["4"]["follows_up"] and answers["4"]["abstained"]
    assert answers["7"]["follows_up"] and answers["7"]["citations"] == ["garut"]
