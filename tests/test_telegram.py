"""The real `berita bot` process against the test Bot API server, over HTTP."""

import json
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BERITA, FLOODS, SEED, ChromaServer, free_port, run_berita
from tests.telegram_api import BOT_USERNAME, BotAPIServer, parse_html

pytestmark = pytest.mark.slow  # real processes and servers: `make test-all`

SEED_TITLE = "Sekutu Rusia terancam pecah: Armenia dan CSTO"


@pytest.fixture
def api():
    server = BotAPIServer()
    server.base = server.start()
    yield server
    server.stop()


def start_bot(
    api: BotAPIServer, env: dict[str, str], wait_for: str = "getUpdates", **settings: str
) -> subprocess.Popen:
    """Start the real `berita bot`, configured only through its environment; returns once it
    called `wait_for` (getUpdates: it polls)."""
    bot_env = {
        **env,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": f"{api.base}/bot",
        "TELEGRAM_BASE_FILE_URL": f"{api.base}/file/bot",
        "LOG_LEVEL": "INFO",
        "BOT_REFRESH_S": "1",
        **settings,
    }
    process = subprocess.Popen(
        [BERITA, "bot"],
        env=bot_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log = []
    threading.Thread(target=lambda: process.log.extend(process.stdout), daemon=True).start()
    try:
        api.wait_for(lambda s: wait_for in s.calls, timeout=60)
    except TimeoutError:
        process.kill()
        raise AssertionError("bot did not start:\n" + "".join(process.log)) from None
    return process


def stop_bot(process: subprocess.Popen) -> str:
    """SIGTERM, a clean exit, and the bot's log."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, "".join(process.log)
    return "".join(process.log)


@pytest.fixture
def seeded(cli_env):
    assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
    return cli_env


def nth_reply(api: BotAPIServer, chat_id: int, n: int = 1, timeout: float = 60):
    api.wait_for(lambda s: len(s.replies_to(chat_id)) >= n, timeout=timeout)
    return api.replies_to(chat_id)[n - 1]


def test_start_commands_and_questions_in_both_languages(api, seeded):
    bot = start_bot(api, seeded)
    try:
        assert {c["command"] for c in api.commands} >= {"ask", "sources", "about", "help", "start"}
        api.user_says("/start", user_id=1)
        assert "<b>1</b> news article of 2023-05-23, quoting" in nth_reply(api, 1).text

        api.user_says("which countries left CSTO?", user_id=1)
        english = parse_html(nth_reply(api, 1, 2).text)
        for country in ("Azerbaijan", "Georgia", "Uzbekistan"):
            assert country in english
        assert f"Sources\n1. {SEED_TITLE} — 2023-05-23" in english
        assert "http" not in english

        api.user_says("Siapa juru bicara Kremlin?", user_id=2, language_code="id")
        indonesian = parse_html(nth_reply(api, 2).text)
        assert "Peskov" in indonesian and "Sumber\n1. " in indonesian

        api.user_says("Who won the 2022 FIFA World Cup?", user_id=3)
        assert "do not answer that question" in nth_reply(api, 3).text

        api.user_says("/about", user_id=4, language_code="id")
        about = parse_html(nth_reply(api, 4).text)
        assert "Model embedding: e5-small-q4" in about and "Artikel: 1" in about
        assert "Jawaban: kutipan dari artikel" in about
        api.user_says("/sources", user_id=4)
        assert SEED_TITLE in parse_html(nth_reply(api, 4, 2).text)
        api.user_says("/sources ²", user_id=4)  # a digit that is no number: the first page
        assert SEED_TITLE in parse_html(nth_reply(api, 4, 3).text)
    finally:
        log = stop_bot(bot)
    assert api.token not in log and "update=" in log


def test_group_answers_only_when_addressed(api, seeded):
    bot = start_bot(api, seeded, RATE_LIMIT_PER_MINUTE="2")
    try:
        group = -100
        # Group chatter is not counted against the rate limit (2 a minute here).
        for chatter in ("Siapa juru bicara Kremlin?", "halo semua", "ada kabar?", "ok"):
            api.user_says(chatter, user_id=6, chat_id=group, chat_type="group")
        api.user_says("Siapa juru bicara Kremlin?", user_id=5, chat_id=group, chat_type="group")
        api.user_says(
            f"@{BOT_USERNAME} Siapa juru bicara Kremlin?",
            user_id=5,
            chat_id=group,
            chat_type="supergroup",
        )
        first = nth_reply(api, group)
        assert "Peskov" in first.text and first.reply_to is not None
        api.user_says(
            "Who is the president of Azerbaijan?",
            user_id=6,
            chat_id=group,
            chat_type="group",
            reply_to_bot=True,
        )
        api.user_says(
            f"/ask@{BOT_USERNAME} Who is the Prime Minister of Armenia?",
            user_id=6,
            chat_id=group,
            chat_type="group",
        )
        assert "Aliyev" in nth_reply(api, group, 2).text
        assert "Pashinyan" in nth_reply(api, group, 3).text
        time.sleep(1.5)
        assert len(api.replies_to(group)) == 3  # the unaddressed message got no reply
    finally:
        stop_bot(bot)


def test_allow_list_rate_limit_and_long_questions(api, seeded):
    bot = start_bot(
        api, seeded, ALLOWED_USER_IDS="10,11", RATE_LIMIT_PER_MINUTE="2", MAX_QUESTION_CHARS="60"
    )
    try:
        api.user_says("which countries left CSTO?", user_id=99)
        api.user_says("and again?", user_id=99)
        assert "this bot is private" in nth_reply(api, 99).text
        api.user_says("/start", user_id=10)
        nth_reply(api, 10)
        assert len(api.replies_to(99)) == 1  # one polite refusal, then silence

        api.user_says("Siapa juru bicara Kremlin? " * 5, user_id=11, language_code="id")
        assert "terlalu panjang (134 karakter; maksimal 60)" in nth_reply(api, 11).text
        # Two requests a minute (commands count too): /start and one question are answered,
        # the third is told to wait, once; the rest of the window is silent.
        for question in ("Siapa juru bicara Kremlin?", "Apa julukan CSTO?", "Kapan?", "/about"):
            api.user_says(question, user_id=10, language_code="id")
        assert "terlalu cepat" in nth_reply(api, 10, 3).text
        time.sleep(1.5)
        assert len(api.replies_to(10)) == 3
    finally:
        stop_bot(bot)


def test_html_in_titles_long_answers_and_flood_control(api, cli_env, tmp_path):
    # Long sentences full of "&" and "<": the escaped answer is longer than one message.
    sentence = "harga beras&gula&minyak&tepung&telur&cabai&garam&kopi&teh naik <5% di Cipinang"
    body = " ".join(f"Laporan {i}: " + ", ".join([sentence] * 20) + "." for i in range(6))
    article = {
        "id": "beras-1",
        "title": "Harga beras <5% & minyak naik",
        "text": body,
        "url": "https://news.example/beras?a=1&b=2",
        "published": "2024-03-01",
    }
    corpus = tmp_path / "beras.jsonl"
    corpus.write_text(json.dumps(article) + "\n", "utf-8")
    long_passages = {**cli_env, "CHUNK_MAX_WORDS": "400"}
    assert run_berita(long_passages, "ingest", str(corpus)).returncode == 0
    # spans quote up to ANSWER_MAX_CHARS (sentence reading quotes a sentence or two)
    bot = start_bot(api, cli_env, ANSWER_MAX_CHARS="3500", READER_SENTENCES="0")
    try:
        api.flood_remaining = 2  # the next two sends get 429 retry_after=1
        api.user_says("Berapa kenaikan harga beras di pasar induk Cipinang?", user_id=20)
        nth_reply(api, 20, 2, timeout=90)
        parts = api.replies_to(20)
        assert sum(len(p.text) for p in parts) > 4096
        assert all(len(parse_html(p.text)) <= 4096 for p in parts)
        assert "beras&gula&minyak&tepung&telur&cabai&garam&kopi&teh naik <5%" in parse_html(
            parts[0].text
        )
        link = '<a href="https://news.example/beras?a=1&amp;b=2">Harga beras &lt;5% &amp; minyak'
        assert link in parts[-1].text
        assert api.flood_remaining == 0 and not api.errors
    finally:
        stop_bot(bot)


def test_thirty_users_at_once_all_answered(api, seeded):
    bot = start_bot(api, seeded)
    try:
        questions = ["Siapa juru bicara Kremlin?", "Who is the president of Azerbaijan?"]
        for user in range(100, 130):
            api.user_says(questions[user % 2], user_id=user)
        api.wait_for(lambda s: all(s.replies_to(u) for u in range(100, 130)), timeout=180)
        for user in range(100, 130):
            [reply] = api.replies_to(user)
            assert ("Peskov" if user % 2 == 0 else "Aliyev") in reply.text
    finally:
        stop_bot(bot)


def test_one_chat_is_answered_in_order(api, seeded):
    bot = start_bot(api, seeded)
    try:
        for question in (
            "Siapa juru bicara Kremlin?",
            "/help",
            "Who is the president of Azerbaijan?",
        ):
            api.user_says(question, user_id=30)
        replies = [nth_reply(api, 30, n).text for n in (1, 2, 3)]
        assert "Peskov" in replies[0] and "/ask" in replies[1] and "Aliyev" in replies[2]
    finally:
        stop_bot(bot)


def test_new_articles_are_answered_without_restart(api, cli_env, site):
    bot = start_bot(api, cli_env, ADMIN_USER_IDS="40")
    try:
        api.user_says("Siapa juru bicara Kremlin?", user_id=41, language_code="id")
        assert "Belum ada artikel" in nth_reply(api, 41).text

        assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
        deadline = time.monotonic() + 10
        answered = False
        while not answered and time.monotonic() < deadline:
            count = len(api.replies_to(41))
            api.user_says("Siapa juru bicara Kremlin?", user_id=41, language_code="id")
            answered = "Peskov" in nth_reply(api, 41, count + 1).text
            time.sleep(0.5)
        assert answered, "an ingest by another process was not seen within 10 s"

        api.user_says(f"/add {site.url('/berita/harga-beras')}", user_id=40)
        api.wait_for(lambda s: any("1 added" in m.text for m in s.replies_to(40)), timeout=90)
        count = len(api.replies_to(41))
        api.user_says("/add https://x.example", user_id=41)
        assert "Only admins" in nth_reply(api, 41, count + 1).text
        api.user_says("Berapa harga beras medium di pasar tradisional?", user_id=40)
        api.wait_for(lambda s: any("14.500" in m.text for m in s.replies_to(40)), timeout=30)
        count = len(api.replies_to(40))
        api.user_says("/start", user_id=40, language_code="id")
        started = nth_reply(api, 40, count + 1).text
        assert "<b>2</b> artikel berita dari 2023-05-23 sampai 2024-03-01," in started

        count = len(api.replies_to(40))
        api.user_says("/remove seed-csto-armenia nope", user_id=40)
        removed = nth_reply(api, 40, count + 1).text
        assert removed == "Removed seed-csto-armenia (4 passages).\nNo article nope."
    finally:
        stop_bot(bot)


def test_a_store_that_is_down_gets_a_clear_reply(api, cli_env):
    from tests.conftest import free_port

    bot = start_bot(api, cli_env, CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(free_port()))
    try:
        api.user_says("Siapa juru bicara Kremlin?", user_id=50, language_code="id")
        assert "Penyimpanan artikel sedang tidak tersedia" in nth_reply(api, 50).text
        api.user_says("/sources", user_id=51)
        assert "The article store is unavailable right now" in nth_reply(api, 51).text
    finally:
        stop_bot(bot)


def test_answers_written_by_a_configured_model_are_escaped_and_cited(api, seeded):
    from tests.llm_api import ChatServer

    with ChatServer() as chat:
        chat.reply = "Juru bicara Kremlin: Dmitry Peskov & timnya <3 [1] https://evil.example/x"
        chat.delay_s = 1.5  # a slow model: the chat shows "typing…" while it writes
        bot = start_bot(api, seeded, LLM_MODEL="test-model", LLM_BASE_URL=chat.base_url)
        try:
            api.user_says("Siapa juru bicara Kremlin?", user_id=1, language_code="id")
            reply = parse_html(nth_reply(api, 1).text)
            api.user_says("/about", user_id=1)
            about = parse_html(nth_reply(api, 1, 2).text)
        finally:
            stop_bot(bot)
    assert "Answers: written by test-model from the articles" in about
    assert reply.startswith("Juru bicara Kremlin: Dmitry Peskov & timnya <3 [1]\n")
    assert f"Sumber\n1. {SEED_TITLE} — 2023-05-23" in reply
    assert "evil" not in reply and len(chat.requests) == 1
    assert (1, "typing") in api.actions


def test_with_a_model_a_follow_up_is_rewritten_to_stand_alone(api, cli_env):
    from tests.llm_api import ChatServer, rewrites

    assert run_berita(cli_env, "ingest", str(FLOODS)).returncode == 0
    with ChatServer() as chat:
        chat.standalone["Kalau di Sumedang?"] = "Berapa rumah tertimbun longsor di Sumedang?"
        bot = start_bot(api, cli_env, LLM_MODEL="test-model", LLM_BASE_URL=chat.base_url)
        try:
            api.user_says("Berapa rumah terendam banjir bandang di Garut?", user_id=7)
            assert "Banjir bandang terjang Garut" in nth_reply(api, 7).text
            api.user_says("Kalau di Sumedang?", user_id=7)
            moved = parse_html(nth_reply(api, 7, 2).text)
            api.user_says("Kalau di Sumedang?", user_id=8)  # another chat: no thread to lean on
            other = parse_html(nth_reply(api, 8).text)
        finally:
            log = stop_bot(bot)
    assert "30 rumah tertimbun" in moved and "Longsor timbun permukiman di Sumedang" in moved
    (rewrite,) = rewrites(chat.requests)  # one rewrite: the second chat had no thread
    assert rewrite[-1]["content"] == "Kalau di Sumedang?"
    assert rewrite[1]["content"] == "Berapa rumah terendam banjir bandang di Garut?"
    assert "30 rumah" not in other
    assert "Sumedang" not in log and "Garut" not in log  # no question or rewrite in the log


def test_the_bot_checks_the_store_at_start_and_says_what_is_damaged(api, seeded, settings):
    from tests.test_check import DAMAGED, _lose_vector

    bot = start_bot(api, seeded)
    try:
        _wait_for_log(bot, "store checked: 4 passages of 1 articles checked, sound")
    finally:
        stop_bot(bot)
    _lose_vector(settings.chroma_path, DAMAGED)
    bot = start_bot(api, seeded)
    try:
        api.user_says("Siapa juru bicara Kremlin?", user_id=1)
        assert "Peskov" in nth_reply(api, 1).text  # answered from the rest meanwhile
        _wait_for_log(bot, "`berita check --repair` mends them")
    finally:
        log = stop_bot(bot)
    damaged = next(line for line in log.splitlines() if "the store is damaged" in line)
    assert "1 passages without their vector" in damaged
    assert "damaged articles: seed-csto-armenia" in damaged


def _wait_for_log(bot: subprocess.Popen, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in "".join(bot.log):
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n" + "".join(bot.log)
        time.sleep(0.2)


def test_a_rejected_token_is_one_line_and_never_shown(api, seeded):
    wrong = "999999:WRONG-SECRET-token-abcdef"
    done = subprocess.run(
        [BERITA, "bot"],
        env={
            **seeded,
            "TELEGRAM_BOT_TOKEN": wrong,
            "TELEGRAM_BASE_URL": f"{api.base}/bot",
            "LOG_LEVEL": "DEBUG",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "WRONG-SECRET" not in output and "999999" not in output
    assert done.stderr.strip().splitlines()[-1] == (
        "berita: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather"
    )
    assert "Traceback" not in done.stderr.split("<token>")[-1]  # nothing uncaught after logging


@pytest.mark.parametrize("store", ["embedded", "a server that is down"])
@pytest.mark.parametrize("setting", ["reader", "llm"])
def test_a_setting_that_cannot_work_stops_the_bot_before_it_polls(
    api, seeded, tmp_path, store, setting
):
    empty = tmp_path / "no-reader"
    empty.mkdir()
    server = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(free_port())}
    wrong = {"READER_PATH": str(empty)} if setting == "reader" else {"LLM_MODEL": "anthropic:x"}
    done = subprocess.run(
        [BERITA, "bot"],
        env={
            **seeded,
            **(server if store != "embedded" else {}),
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": f"{api.base}/bot",
            **wrong,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    expected = {
        "reader": f"berita: READER is on but {empty} holds no reader weights "
        "(reader-*.safetensors): train one (README, 'Retrain it'), set READER_PATH, or set "
        "READER=off",
        "llm": "berita: LLM_MODEL 'anthropic:x' needs a LangChain provider package",
    }[setting]
    assert done.stderr.strip().splitlines()[-1].startswith(expected)
    if setting == "reader":
        assert done.stderr.strip().splitlines()[-1] == expected
    assert "Traceback" not in done.stderr and api.token not in done.stdout + done.stderr
    assert "getUpdates" not in api.calls


def test_webhook_mode_needs_a_secret_and_refuses_forged_updates(api, seeded):
    env = {
        **seeded,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": f"{api.base}/bot",
        "TELEGRAM_WEBHOOK_URL": "https://bot.example",
        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
    }
    refused = subprocess.run([BERITA, "bot"], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr.startswith("berita: webhook mode needs TELEGRAM_WEBHOOK_SECRET")

    port = free_port()
    bot = start_bot(
        api,
        seeded,
        TELEGRAM_WEBHOOK_URL="https://bot.example",
        TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        TELEGRAM_WEBHOOK_PORT=str(port),
        TELEGRAM_WEBHOOK_SECRET="s3cret-header-value",
        ADMIN_USER_IDS="70",
        wait_for="setWebhook",
    )
    try:
        assert api.webhook["secret_token"] == "s3cret-header-value"
        url = f"http://127.0.0.1:{port}/telegram"
        forged = api.update_json("/remove seed-csto-armenia", user_id=70)
        assert httpx.post(url, json=forged, timeout=10).status_code == 403
        wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
        assert httpx.post(url, json=forged, headers=wrong, timeout=10).status_code == 403
        real = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-header-value"}
        question = api.update_json("Siapa juru bicara Kremlin?", user_id=71)
        assert httpx.post(url, json=question, headers=real, timeout=10).status_code == 200
        assert "Peskov" in nth_reply(api, 71).text
        assert not api.replies_to(70)  # the forged /remove never ran
    finally:
        stop_bot(bot)
    assert "seed-csto-armenia" in run_berita(seeded, "sources").stdout


def test_two_polling_bots_on_one_token_each_say_so_in_one_line(api, seeded):
    bots = [start_bot(api, seeded), start_bot(api, seeded)]
    logs = []
    try:
        for bot in bots:  # Telegram ends one's getUpdates when the other's comes (409)
            _wait_for_log(bot, "another process polls this token")
        api.user_says("Siapa juru bicara Kremlin?", user_id=90)
        assert "Peskov" in nth_reply(api, 90).text
    finally:
        logs = [stop_bot(bot) for bot in bots]
    for log in logs:
        assert log.count("Telegram refused this bot's polling (409 Conflict: terminated") == 1
        assert "Traceback" not in log and api.token not in log


def test_webhook_workers_behind_one_url_share_the_updates(api, seeded):
    hook = {
        "TELEGRAM_WEBHOOK_URL": "https://bot.example",
        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
        "TELEGRAM_WEBHOOK_SECRET": "s3cret-header-value",
    }
    ports = [free_port(), free_port()]
    workers = [
        start_bot(api, seeded, wait_for="setWebhook", TELEGRAM_WEBHOOK_PORT=str(port), **hook)
        for port in ports
    ]
    secret = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-header-value"}

    def deliver(port: int, user_id: int, text: str) -> None:
        """What a load balancer in front of the workers does with Telegram's post."""
        url = f"http://127.0.0.1:{port}/telegram"
        update = api.update_json(text, user_id=user_id)
        deadline = time.monotonic() + 60
        while True:  # until the worker listens
            try:
                assert httpx.post(url, json=update, headers=secret, timeout=10).is_success
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, "worker did not listen"
                time.sleep(0.3)

    try:
        for user_id in range(1, 7):  # round robin
            deliver(ports[user_id % 2], user_id, "Siapa juru bicara Kremlin?")
        for user_id in range(1, 7):
            assert "Peskov" in nth_reply(api, user_id).text
        # A worker that stops leaves the webhook to the others (and the store, which it owned).
        stop_bot(workers[0])
        assert api.webhook["url"] == "https://bot.example/telegram"
        deliver(ports[1], 7, "which countries left CSTO?")
        assert "Armenia" in nth_reply(api, 7).text
    finally:
        for worker in workers:
            if worker.poll() is None:
                stop_bot(worker)
    assert "getUpdates" not in api.calls and "deleteWebhook" not in api.calls


def test_a_failing_command_menu_does_not_stop_the_bot(api, seeded):
    api.fail_methods["setMyCommands"] = 500
    bot = start_bot(api, seeded)
    try:
        api.user_says("Siapa juru bicara Kremlin?", user_id=80)
        assert "Peskov" in nth_reply(api, 80).text
    finally:
        log = stop_bot(bot)
    assert log.count("could not register the command menu") == 1


def test_refusals_follow_the_users_language_and_photos_get_a_hint(api, seeded):
    bot = start_bot(api, seeded, ALLOWED_USER_IDS="90")
    try:
        api.user_says("which countries left CSTO?", user_id=91, language_code="id")
        assert "bot ini privat" in nth_reply(api, 91).text
        api.user_says("", user_id=90, photo=True)
        assert nth_reply(api, 90).text == "I read text only: ask your question in words."
    finally:
        stop_bot(bot)


def test_about_shows_the_store_to_admins_only(api, seeded):
    bot = start_bot(api, seeded, ADMIN_USER_IDS="60")
    try:
        api.user_says("/about", user_id=61)
        api.user_says("/about", user_id=60)
        visitor, admin = parse_html(nth_reply(api, 61).text), parse_html(nth_reply(api, 60).text)
    finally:
        stop_bot(bot)
    store_path = seeded["CHROMA_PATH"]
    assert "Articles: 1" in visitor and store_path not in visitor and "Store" not in visitor
    assert f"Store (admins only): {store_path} / berita" in admin


def test_a_store_server_outage_is_answered_logged_once_and_recovered(api, cli_env, tmp_path):
    with ChromaServer(tmp_path / "server") as chroma:
        env = cli_env | {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma.port)}
        assert run_berita(env, "ingest", str(SEED)).returncode == 0
        bot = start_bot(api, env, BOT_REFRESH_S="0.2")
        try:
            api.user_says("Siapa juru bicara Kremlin?", user_id=1)
            assert "Peskov" in nth_reply(api, 1).text
            chroma.stop()
            time.sleep(2)
            api.user_says("Siapa juru bicara Kremlin?", user_id=1)
            assert "Penyimpanan artikel sedang tidak tersedia" in nth_reply(api, 1, 2).text
            api.user_says("/start", user_id=2)
            assert "store is unavailable" in nth_reply(api, 2).text
            chroma.start()
            time.sleep(2)
            api.user_says("Siapa juru bicara Kremlin?", user_id=3)
            assert "Peskov" in nth_reply(api, 3).text
        finally:
            log = stop_bot(bot)
    # The watcher ran ~10 times a second during the outage, and said so once.
    assert log.count("berita.bot.service: store unavailable") == 1, log
    assert log.count("berita.bot.service: store available again") == 1


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_add_is_stopped_at_its_timeout_and_says_so(api, cli_env, site):
    bot = start_bot(api, cli_env, ADMIN_USER_IDS="40", ADD_TIMEOUT_S="3", FETCH_TIMEOUT_S="60")
    try:
        started = time.monotonic()
        api.user_says(f"/add {site.url('/drip')}", user_id=40)
        assert "Adding" in nth_reply(api, 40).text
        children = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in _children(bot.pid)]
        assert not any(b"ingest" in command for command in children)  # /add runs in the bot
        reply = nth_reply(api, 40, 2, timeout=30).text
        assert time.monotonic() - started < 15
        assert reply.startswith("0 added, 0 updated, 0 unchanged, 0 failed")
        assert "interrupted" in reply and "/add stopped after ADD_TIMEOUT_S (3 s)" in reply
        api.user_says("/help", user_id=40)
        assert "/ask" in nth_reply(api, 40, 3).text  # the chat is not blocked
    finally:
        stop_bot(bot)


def test_feeds_are_managed_by_admins_and_watched_articles_answered_live(api, cli_env):
    from tests.site import NewsFeedSite

    with NewsFeedSite() as news:
        news.publish(1)
        feed = news.url("/news.xml")
        bot = start_bot(api, cli_env, ADMIN_USER_IDS="40", FEED_INTERVAL_MIN="0.01")
        watch = subprocess.Popen(
            [BERITA, "watch"],
            env=cli_env | {"FEED_INTERVAL_MIN": "0.01"},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            api.user_says("/feeds", user_id=41)
            assert "Only admins" in nth_reply(api, 41).text
            api.user_says(f"/feeds add {feed}", user_id=40)
            assert "berita watch</code> polls it every 0.01 min" in nth_reply(api, 40).text
            news.publish(2)
            answered = False
            deadline = time.monotonic() + 60
            while not answered and time.monotonic() < deadline:
                count = len(api.replies_to(40))
                api.user_says("Berapa pekerja untuk perbaikan jalan nomor 2? kabar002", user_id=40)
                reply = nth_reply(api, 40, count + 1).text  # quotes and cites the new article
                answered = "kabar002" in reply and '1. <a href="' + news.url("/artikel/2") in reply
                time.sleep(0.5)
            assert answered, "an article the watcher stored was not answered within 60 s"

            count = len(api.replies_to(40))
            api.user_says("/feeds", user_id=40)
            state = parse_html(nth_reply(api, 40, count + 1).text)
            assert state.startswith(f"{feed} — last success ") and "added by chat" in state
            api.user_says(f"/feeds remove {feed}", user_id=40)
            assert (
                "dihapus" in nth_reply(api, 40, count + 2).text
                or "Removed" in nth_reply(api, 40, count + 2).text
            )
        finally:
            watch.send_signal(signal.SIGTERM)
            watch.wait(timeout=30)
            stop_bot(bot)


def test_follow_ups_continue_the_chat_or_the_reply_chain_and_new_starts_afresh(api, cli_env):
    assert run_berita(cli_env, "ingest", str(FLOODS)).returncode == 0
    bot = start_bot(api, cli_env, ADMIN_USER_IDS="50")
    try:
        api.user_says("/help", user_id=50)
        assert "/new" in nth_reply(api, 50).text and "10 min" in nth_reply(api, 50).text
        api.user_says("Berapa rumah terendam banjir bandang di Garut?", user_id=50)
        assert "1.200 rumah" in nth_reply(api, 50, 2).text
        api.user_says("Berapa korban tewasnya?", user_id=50)
        assert "23 orang tewas" in nth_reply(api, 50, 3).text
        api.user_says("/new", user_id=50)
        assert "New conversation" in nth_reply(api, 50, 4).text
        api.user_says("Berapa korban tewasnya?", user_id=50)  # whose? nothing says now
        assert "23 orang" not in nth_reply(api, 50, 5).text

        group = -200
        ask = {"chat_id": group, "chat_type": "group"}
        api.user_says(f"@{BOT_USERNAME} Berapa rumah terendam banjir di Garut?", 51, **ask)
        garut = nth_reply(api, group)
        api.user_says(f"@{BOT_USERNAME} Berapa rumah tertimbun longsor di Sumedang?", 52, **ask)
        assert "30 rumah" in nth_reply(api, group, 2).text
        api.user_says("Berapa korban tewasnya?", 51, reply_to_bot=garut.message_id, **ask)
        assert "23 orang tewas" in nth_reply(api, group, 3).text  # Garut's thread, not Sumedang's

        # Buttons under an answer: its context, votes, and forged or stale ones.
        answer = nth_reply(api, 50, 3)
        labels = [label for label, _ in answer.buttons]
        assert labels == ["Konteks", "👍", "👎"] and not nth_reply(api, 50, 5).buttons
        context_of, _, vote_down = (data for _, data in answer.buttons)
        api.user_presses(answer, context_of, user_id=50)
        shown = parse_html(nth_reply(api, 50, 6).text)
        assert shown.startswith("Banjir bandang terjang Garut — 2024-04-02")
        assert "23 orang tewas dan 6 orang masih hilang" in shown
        api.user_presses(answer, vote_down, user_id=50)
        for forged in ("down:zz'; DROP TABLE votes", "up:00000000", "x" * 64):
            api.user_presses(answer, forged, user_id=50)
        api.wait_for(lambda s: len(s.callback_answers) == 5)
        assert api.callback_answers[1] == "Thanks for the feedback!"
        assert api.callback_answers[2:] == ["This button has expired: ask again."] * 3
        api.user_says("/feedback", user_id=50)
        report = parse_html(nth_reply(api, 50, 7).text)
        assert "• Berapa korban tewasnya? → Badan Penanggulangan" in report  # the 👎
        assert "• berapa korban tewasnya? (1×)" in report  # refused after /new
    finally:
        log = stop_bot(bot)
    assert "korban" not in log and "Garut" not in log  # no question or answer in the log
    votes = Path(cli_env["CHROMA_PATH"]).with_name("feedback.sqlite3")
    with sqlite3.connect(votes) as db:
        [row] = db.execute("SELECT * FROM votes").fetchall()
    up, question, quoted, cited = row[1:]  # when, the vote, what was asked and said: no user
    assert (up, question, cited) == (0, "Berapa korban tewasnya?", "garut")
    assert quoted.startswith("Badan Penanggulangan Bencana Daerah mencatat 23 orang tewas")
