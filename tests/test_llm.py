"""Generated answers through a real OpenAI-compatible HTTP server (tests/llm_api.py)."""

import json
import logging

import pytest

from berita.answer.components import open_answerer, open_store
from berita.answer.llm import parse_reply
from berita.ingest.pipeline import ingest
from berita.settings import load_settings
from tests.conftest import SEED, run_berita
from tests.llm_api import ChatServer

SEED_ID = "seed-csto-armenia"


@pytest.fixture
def chat():
    with ChatServer() as server:
        yield server


@pytest.fixture
def llm_settings(settings, chat):
    ingest([str(SEED)], open_store(settings), settings)
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
