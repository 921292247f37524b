"""The bot's parts on their own: message splitting, per-chat order, rate limits, allow-lists,
questions answered side by side."""

import asyncio
import datetime as dt
import threading
import time

import pytest
from telegram import Chat, Message, Update

from berita.answer.answerer import Answerer
from berita.answer.components import open_store
from berita.bot.access import AccessPolicy, RateLimiter
from berita.bot.processing import ChatOrderedProcessor, redact
from berita.bot.replies import split_message
from berita.bot.service import AnswerService
from berita.ingest.config import IngestConfig
from berita.ingest.pipeline import ingest
from berita.settings import load_settings
from berita.threads import SharedLock
from tests.conftest import SEED
from tests.telegram_api import parse_html


def test_short_messages_are_not_split():
    assert split_message("<b>Halo</b> dunia") == ["<b>Halo</b> dunia"]


def test_long_messages_split_between_paragraphs_then_lines_then_sentences_then_words():
    paragraphs = "\n\n".join(f"<b>Bagian {i}</b>\n" + "kata " * 300 for i in range(10))
    parts = split_message(paragraphs, limit=4096)
    assert len(parts) > 1 and all(len(part) <= 4096 for part in parts)
    assert all(part.startswith("<b>Bagian") for part in parts)  # whole paragraphs
    for part in parts:
        parse_html(part)  # no tag is cut in two

    sentences = " ".join(f"Kalimat nomor {i} cukup panjang untuk diuji." for i in range(400))
    parts = split_message(sentences, limit=1000)
    assert all(len(p) <= 1000 and p.endswith(".") for p in parts)
    assert " ".join(parts) == sentences

    one_line = "kata " * 1000
    parts = split_message(one_line.strip(), limit=300)
    assert all(len(p) <= 300 for p in parts) and " ".join(parts) == one_line.strip()
    assert split_message("x" * 250, limit=100) == ["x" * 100, "x" * 100, "x" * 50]


def _update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, dt.datetime.now(dt.UTC), chat))


def test_each_chat_is_processed_in_order_while_chats_run_side_by_side():
    trace: list[str] = []

    async def handle(name: str, seconds: float) -> None:
        trace.append(f"start {name}")
        await asyncio.sleep(seconds)
        trace.append(f"end {name}")

    async def run() -> ChatOrderedProcessor:
        processor = ChatOrderedProcessor(16)
        await asyncio.gather(
            processor.do_process_update(_update(1, 5), handle("A", 0.05)),
            processor.do_process_update(_update(2, 5), handle("B", 0.1)),
            processor.do_process_update(_update(3, 5), handle("C", 0.01)),
            processor.do_process_update(_update(4, 6), handle("other", 0.01)),
        )
        return processor

    processor = asyncio.run(run())
    chat = [step for step in trace if "other" not in step]
    assert chat == ["start A", "end A", "start B", "end B", "start C", "end C"]
    assert trace.index("end other") < trace.index("end A")  # another chat did not wait
    assert processor.chats_tracked() == 0  # nothing kept once a chat is idle


def test_rate_limit_counts_per_user_tells_once_per_window_and_forgets_idle_users():
    now = [1000.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.check(1) == (0, False)
    assert limiter.check(1) == (0, False)
    assert limiter.check(2) == (0, False)  # another user has their own budget
    wait, tell = limiter.check(1)
    assert wait == 61 and tell
    now[0] += 30
    assert limiter.check(1) == (31, False)  # still waiting: not told again
    now[0] += 31
    assert limiter.check(1) == (0, False)  # a new window
    for user in range(3, 10_003):
        limiter.check(user)
    now[0] += 120
    limiter.check(1)
    assert limiter.tracked_users() == 1  # the 10,000 idle users are forgotten


def test_allow_lists_admins_and_a_bounded_memory_of_refusals():
    settings = load_settings(allowed_user_ids="1,2", admin_user_ids="9")
    policy = AccessPolicy(settings, remembered=3)
    assert policy.allows(1, 100) and policy.allows(9, 100) and not policy.allows(3, 100)
    assert policy.is_admin(9) and not policy.is_admin(1)
    assert [policy.first_refusal(user) for user in (3, 3, 4, 5, 6)] == [
        True,
        False,
        True,
        True,
        True,
    ]
    assert policy.first_refusal(3)  # forgotten (the oldest of four), so told once more
    open_policy = AccessPolicy(load_settings())
    assert open_policy.allows(12345, -100)


@pytest.mark.parametrize(
    "text",
    [
        "GET https://api.telegram.org/bot123456:AAH-secret-part-xyz/getMe failed",
        "token `123456:AAH-secret-part-xyz` was rejected",
        "only the secret AAH-secret-part-xyz leaked",
    ],
)
def test_the_token_is_redacted_wherever_it_appears(text):
    redacted = redact(text, "123456:AAH-secret-part-xyz")
    assert "AAH-secret" not in redacted and "<token>" in redacted


def test_questions_are_answered_side_by_side_and_a_refresh_waits_for_them(settings, monkeypatch):
    ingest([str(SEED)], open_store(settings), IngestConfig.from_settings(settings))
    reading, release = threading.Event(), threading.Event()
    extract = Answerer.extract

    def slow_for_one(self, question, *args, **kwargs):
        if question.startswith("Siapa"):  # this one is read slowly, holding the store shared
            reading.set()
            release.wait(30)
        return extract(self, question, *args, **kwargs)

    monkeypatch.setattr(Answerer, "extract", slow_for_one)
    service = AnswerService(settings.model_copy(update={"bot_workers": 2}))

    async def questions():
        await service.start()
        slow = asyncio.create_task(service.ask("Siapa juru bicara Kremlin?"))
        await asyncio.to_thread(reading.wait, 30)
        quick = await asyncio.wait_for(service.ask("which countries left CSTO?"), 60)
        refresh = asyncio.create_task(service.refresh())  # takes the store alone
        await asyncio.sleep(0.5)
        waiting = not slow.done() and not refresh.done()
        release.set()
        return quick, await slow, waiting, await refresh

    try:
        quick, slow, waiting, _ = asyncio.run(questions())
    finally:
        release.set()
        service.close()
    assert "Azerbaijan" in quick.answer  # answered while the other question was being read
    assert "Peskov" in slow.answer
    assert waiting  # the refresh waited for the question that held the store


def test_a_waiting_writer_goes_before_readers_that_come_after_it():
    lock, order = SharedLock(), []
    first_reader_in, writer_waiting = threading.Event(), threading.Event()

    def reader(name, hold):
        with lock.shared():
            order.append(name)
            first_reader_in.set()
            hold.wait(10)

    def writer():
        writer_waiting.set()
        with lock.exclusive():
            order.append("writer")

    hold = threading.Event()
    threads = [threading.Thread(target=reader, args=("reader-1", hold))]
    threads[0].start()
    first_reader_in.wait(10)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    writer_waiting.wait(10)
    while not lock._writers_waiting:  # the writer is queued behind the first reader
        time.sleep(0.01)
    threads.append(threading.Thread(target=reader, args=("reader-2", hold)))
    threads[2].start()
    time.sleep(0.2)
    assert order == ["reader-1"]  # the second reader waits behind the writer
    hold.set()
    for thread in threads:
        thread.join(10)
    assert order == ["reader-1", "writer", "reader-2"]
