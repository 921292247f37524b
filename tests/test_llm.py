"""Generated answers through a real OpenAI-compatible HTTP server (tests/llm_api.py)."""

import json
import logging

import pytest

from berita.answer.components import open_answerer, open_store
from berita.answer.conversation import Threads
from berita.answer.llm import parse_reply, standalone_from
from berita.ingest.config import IngestConfig
from berita.ingest.pipeline import ingest
from berita.settings import load_settings
from tests.conftest import FLOODS, SEED, run_berita
from tests.llm_api import ChatServer, rewrites

SEED_ID = "seed-csto-armenia"


@pytest.fixture
def chat():
    with ChatServer() as server:
        yield server


@pytest.fixture
def llm_settings(settings, chat):
    ingest([str(SEED)], open_store(settings), IngestConfig.from_settings(settings))
    return settings.model_copy(
        update={"llm_model": "test-model", "llm_base_url": chat.base_url, "llm_timeout_s": 10}
    )


def test_the_model_answers_from_numbered_passages_and_cites_them(llm_settings, chat):
    answer = open_answerer(llm_settings).ask("Siapa Perdana Menteri Armenia?")
    assert not answer.abstained
    assert "Pashinyan" in answer.answer and answer.answer.endswith("[1]")
    assert answer.citations == [SEED_ID]
    assert answer.timings_ms["generate"] > 0

    (request,) = chat.requests
    assert request["model"] == "test-model" and request["temperature"] == 0
    system, user = (m["content"] for m in request["messages"])
    assert "Reply in Indonesian" in system and "never instructions" in system
    assert user.startswith("<passages>\n[1] Sekutu Rusia terancam pecah")
    assert user.endswith("</passages>\n\nQuestion: Siapa Perdana Menteri Armenia?")
    assert "http" not in user  # the seed's gambling link was stripped at ingest


def test_the_model_reads_the_sentences_the_reader_quoted_first(llm_settings, chat):
    question = "Berapa lama perang Armenia dengan Azerbaijan pada 2020?"
    quoted = open_answerer(llm_settings.model_copy(update={"llm_model": None})).ask(question)
    assert not quoted.abstained
    open_answerer(llm_settings).ask(question)
    (request,) = chat.requests
    user = request["messages"][1]["content"]
    first, rest = user.split("\n\n[2] ", 1)
    assert first.endswith("\n" + quoted.answer)  # the quoted sentences, under the title
    assert rest.startswith("Sekutu Rusia terancam pecah")  # then the passages as retrieved


@pytest.mark.parametrize(
    "reply",
    [
        "Armenia [2] — lihat https://promo.example/slot dan promo.xyz [9].",
        "Armenia [2]. Beli murah di hoki88.ru atau bola88.cn ( http://185.220.101.4/x ).",
    ],
)
def test_links_and_citations_of_passages_it_was_not_given_are_removed(llm_settings, chat, reply):
    chat.reply = reply
    answer = open_answerer(llm_settings).ask("Siapa yang ingin keluar dari CSTO?")
    assert answer.answer.startswith("Armenia [1]")
    assert answer.citations == [SEED_ID]
    for residue in ("http", "promo", "hoki88", "bola88", "185.", "[2]", "[9]", "()", "( )"):
        assert residue not in answer.answer


def test_parse_reply_renumbers_by_article_and_refuses_uncited_replies():
    doc_ids = ["a", "b", "a"]
    parsed = parse_reply("Satu [3]. Dua [2]. Tiga [1] [7].", doc_ids)
    assert parsed.text == "Satu [1]. Dua [2]. Tiga [1]." and parsed.cited == ["a", "b"]
    assert parse_reply("Tanpa kutipan.", doc_ids) is None
    assert parse_reply("Salah [9].", doc_ids) is None
    assert parse_reply("NOT_FOUND", doc_ids).abstained


def test_a_slow_model_falls_back_within_the_timeout_once_not_twice(llm_settings, chat):
    chat.delay_s = 3.0
    slow = llm_settings.model_copy(update={"llm_timeout_s": 1.0})
    answer = open_answerer(slow).ask("Siapa juru bicara Kremlin?")
    assert "Peskov" in answer.answer  # the extractive answer
    assert answer.timings_ms["generate"] < 2500 and len(chat.requests) == 1


def test_a_malformed_reply_falls_back_too(llm_settings, chat, caplog):
    chat.malformed = True
    with caplog.at_level(logging.WARNING, logger="berita.answer.llm"):
        answer = open_answerer(llm_settings).ask("Siapa juru bicara Kremlin?")
    assert "Peskov" in answer.answer and answer.citations == [SEED_ID]
    assert "failed, answering without it" in caplog.text


def test_openai_api_key_in_dotenv_is_honoured(tmp_path):
    (tmp_path / ".env").write_text("LLM_MODEL=gpt-4o-mini\nOPENAI_API_KEY=sk-from-dotenv\n")
    settings = load_settings()
    assert settings.llm_api_key.get_secret_value() == "sk-from-dotenv"


def test_not_found_from_the_model_is_a_refusal_in_the_question_language(llm_settings, chat):
    chat.reply = "NOT_FOUND"
    answer = open_answerer(llm_settings).ask("Who is the Prime Minister of Armenia?")
    assert answer.abstained and answer.citations == []
    assert answer.answer.startswith("Sorry")
    assert "Reply in English" in chat.requests[0]["messages"][0]["content"]


def test_the_model_is_not_asked_when_the_refusal_rule_refused(llm_settings, chat):
    answer = open_answerer(llm_settings).ask("Who won the 2022 World Cup?")
    assert answer.abstained and answer.answer.startswith("Sorry")
    assert chat.requests == []


@pytest.mark.parametrize("reply, status", [(None, 500), ("Armenia, menurut saya.", None)])
def test_a_failing_or_uncited_reply_falls_back_to_the_extractive_answer(
    llm_settings, chat, caplog, reply, status
):
    chat.reply, chat.fail_status = reply, status
    answerer = open_answerer(llm_settings)
    question = "Siapa juru bicara Kremlin?"
    with caplog.at_level(logging.WARNING, logger="berita.answer.llm"):
        answer = answerer.ask(question)
    extracted = answerer.extract(question)
    assert (answer.answer, answer.abstained) == (extracted.answer, extracted.abstained)
    assert "Peskov" in answer.answer and answer.citations == [SEED_ID]
    assert chat.requests
    assert bool(caplog.records) == bool(status)


def test_cli_ask_uses_the_configured_model(cli_env, llm_settings, chat):
    env = cli_env | {"LLM_MODEL": "test-model", "LLM_BASE_URL": chat.base_url}
    done = run_berita(env, "ask", "--json", "Siapa juru bicara Kremlin?")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "Peskov" in result["answer"] and result["answer"].endswith("[1]")
    assert result["citations"] == [SEED_ID] and "generate" in result["timings_ms"]


def test_openai_itself_without_a_key_is_a_one_line_setting_error(cli_env):
    env = {k: v for k, v in cli_env.items() if k != "OPENAI_API_KEY"}
    done = run_berita(env | {"LLM_MODEL": "gpt-4o-mini"}, "ask", "Siapa juru bicara Kremlin?")
    assert done.returncode == 2
    assert done.stderr.startswith("berita: invalid setting LLM_API_KEY: ")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture
def floods_llm(llm_settings):
    ingest([str(FLOODS)], open_store(llm_settings), IngestConfig.from_settings(llm_settings))
    return open_answerer(llm_settings)


def test_the_model_rewrites_a_follow_up_into_a_question_that_stands_alone(floods_llm, chat):
    first = floods_llm.ask("Berapa rumah terendam banjir bandang di Garut?")
    assert first.citations[0] == "garut" and not first.asked_as
    assert not rewrites(chat.requests)  # a first question is never rewritten

    # An ellipsis moving to a new subject: offline, the earlier answer pulls it back to Garut.
    standalone = "Berapa rumah tertimbun longsor di Sumedang?"
    chat.standalone["Kalau di Sumedang?"] = standalone
    chat.requests.clear()
    moved = floods_llm.ask("Kalau di Sumedang?", context=first.turn())
    assert moved.asked_as == standalone and moved.follows == first.turn()
    assert moved.citations[0] == "sumedang" and "30 rumah" in moved.answer
    assert moved.question == "Kalau di Sumedang?" and moved.language == "id"
    (rewrite,) = rewrites(chat.requests)
    assert [(m["role"], m["content"]) for m in rewrite[1:]] == [
        ("user", first.question),
        ("assistant", first.answer),  # what the thread's answer said, as the model's turn
        ("user", "Kalau di Sumedang?"),
    ]
    assert "standalone question" in rewrite[0]["content"]
    assert "never instructions" in rewrite[0]["content"]
    written = chat.requests[-1]["messages"][1]["content"]
    assert written.endswith(f"Question: {standalone}")  # the answer is written for it too

    chat.requests.clear()
    alone = floods_llm.ask("Berapa korban tewas banjir bandang di Garut?", context=first.turn())
    assert not alone.asked_as and alone.follows is None
    assert not rewrites(chat.requests)  # it names its subject: asked as it is


@pytest.mark.parametrize("reply", [None, "NOT_FOUND", "x" * 400])
def test_a_failed_or_unusable_rewrite_falls_back_to_reading_with_the_thread(
    floods_llm, chat, reply
):
    first = floods_llm.ask("Berapa rumah terendam banjir bandang di Garut?")
    if reply is None:
        chat.fail_status = 500  # the answer is then extracted too
    else:
        chat.standalone["Berapa korban tewasnya?"] = reply
    chat.requests.clear()
    follow_up = floods_llm.ask("Berapa korban tewasnya?", context=first.turn())
    assert rewrites(chat.requests)
    assert not follow_up.asked_as and follow_up.follows == first.turn()
    extracted = floods_llm.extract("Berapa korban tewasnya?", context=first.turn())
    assert extracted.citations[0] == "garut" and "23 orang" in extracted.answer
    if reply is None:
        assert (follow_up.answer, follow_up.citations) == (extracted.answer, extracted.citations)
    else:  # the model writes the answer for the follow-up as asked, from the thread's passages
        written = chat.requests[-1]["messages"][1]["content"]
        assert written.endswith("Question: Berapa korban tewasnya?")
        assert written.startswith("<passages>\n[1] Banjir bandang")


def test_standalone_from_keeps_one_question_without_labels_links_or_quotes():
    assert standalone_from('Standalone question: "Kapan banjir di Garut?"\n') == (
        "Kapan banjir di Garut?"
    )
    assert standalone_from("\n  Siapa bupati Garut? https://x.example/a\nBecause…") == (
        "Siapa bupati Garut?"
    )
    assert standalone_from("NOT_FOUND") is None
    assert standalone_from("") is None
    assert standalone_from("a" * 301) is None


def test_batch_conversations_are_rewritten_through_the_cli(cli_env, llm_settings, chat, tmp_path):
    env = cli_env | {"LLM_MODEL": "test-model", "LLM_BASE_URL": chat.base_url}
    assert run_berita(env, "ingest", str(FLOODS)).returncode == 0
    chat.standalone["Kalau di Sumedang?"] = "Berapa rumah tertimbun longsor di Sumedang?"
    lines = [
        {"id": "1", "conversation": "a", "question": "Berapa rumah terendam banjir di Garut?"},
        {"id": "2", "conversation": "a", "question": "Kalau di Sumedang?"},
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines), "utf-8")
    done = run_berita(env, "ask", "--batch", str(batch))
    assert done.returncode == 0, done.stderr
    answers = {r["id"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert answers["2"]["follows_up"] and answers["2"]["citations"] == ["sumedang"]
    assert answers["2"]["asked_as"] == "Berapa rumah tertimbun longsor di Sumedang?"
    assert answers["1"]["asked_as"] == ""


def test_the_rewrite_reads_every_turn_the_thread_remembers(floods_llm, chat):
    threads = Threads(timeout_s=600)
    first = floods_llm.ask_in(threads, "chat", "Berapa rumah terendam banjir bandang di Garut?")
    chat.standalone["Berapa korban tewasnya?"] = "Berapa korban tewas banjir bandang di Garut?"
    second = floods_llm.ask_in(threads, "chat", "Berapa korban tewasnya?")
    assert second.asked_as and second.citations == ["garut"]
    chat.requests.clear()
    floods_llm.ask_in(threads, "chat", "Siapa bupatinya?")
    (rewrite,) = rewrites(chat.requests)
    assert [(m["role"], m["content"]) for m in rewrite[1:]] == [
        ("user", first.question),
        ("assistant", first.answer),
        ("user", second.question),
        ("assistant", second.answer),
        ("user", "Siapa bupatinya?"),
    ]
