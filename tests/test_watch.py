"""Feeds on a schedule: polls against a local site whose feed changes, and the real
`berita watch` process (picked up by `ask`, stopped by SIGTERM, killed mid-poll)."""

import datetime as dt
import json
import signal
import subprocess
import threading
import time

import pytest

from berita.answer.components import open_answerer, open_store
from berita.ingest import watch as watching
from berita.ingest.config import WatchConfig
from berita.ingest.fetch import Fetcher
from berita.ingest.watch import apply_retention, poll_feed
from berita.vectorstore.feeds import FeedState
from tests.conftest import BERITA, run_berita
from tests.site import NewsFeedSite

pytestmark = pytest.mark.slow  # real processes and servers: `make test-all`


@pytest.fixture
def news():
    with NewsFeedSite(feeds=("/news.xml", "/also.xml")) as site:
        yield site


def test_polls_store_new_entries_skip_known_pages_and_answer_304(settings, news):
    store = open_store(settings)
    config = WatchConfig.from_settings(settings)
    news.publish(1)
    news.publish(2)
    with Fetcher(config.ingest) as fetcher:
        state, line = poll_feed(FeedState(news.url("/news.xml")), store, config, fetcher)
        assert line.endswith(": 2 new, 0 updated, 0 failed (0 known)")
        assert state.etag and state.stored == 2 and state.failures == 0
        assert news.page_hits() == 2

        state, line = poll_feed(state, store, config, fetcher)
        assert line.endswith("(not modified)") and news.page_hits() == 2  # a 304, nothing more

        news.publish(3)
        state, line = poll_feed(state, store, config, fetcher)
        assert line.endswith(": 1 new, 0 updated, 0 failed (2 known)")
        assert news.page_hits() == 3  # only the new page was fetched
    answer = open_answerer(settings, store).ask("Apa itu kabar003?")
    assert answer.passages[0].document.metadata["url"] == news.url("/artikel/3")


def test_an_entry_link_that_redirects_is_fetched_once(settings, news):
    store = open_store(settings)
    config = WatchConfig.from_settings(settings)
    news.tracking = True  # the feed links /go/N, which redirects to /artikel/N
    news.publish(1)
    with Fetcher(config.ingest) as fetcher:
        state, line = poll_feed(FeedState(news.url("/news.xml")), store, config, fetcher)
        assert line.endswith(": 1 new, 0 updated, 0 failed (0 known)")
        assert store.has_url(news.url("/artikel/1")) and not store.has_url(news.url("/go/1"))
        news.publish(2)
        state, line = poll_feed(state, store, config, fetcher)
        assert line.endswith(": 1 new, 0 updated, 0 failed (1 known)")
    assert news.hits["/go/1"] == 1 and news.hits["/go/2"] == 1
    assert state.stored_links() == {news.url("/go/1"), news.url("/go/2")}


def test_a_feed_removed_during_its_poll_stays_removed(settings, news, monkeypatch):
    store = open_store(settings)
    config = WatchConfig.from_settings(settings)
    url = news.url("/news.xml")
    store.feed_states().put(FeedState(url, added_by="chat"))
    news.publish(1)
    stop = threading.Event()

    def poll_while_an_admin_removes_it(state, *args, **kwargs):
        polled = poll_feed(state, *args, **kwargs)
        assert store.feed_states().remove(url)  # /feeds remove, while the poll is in flight
        stop.set()
        return polled

    monkeypatch.setattr(watching, "poll_feed", poll_while_an_admin_removes_it)
    said = []
    watching.watch(store, config, said.append, stop)
    assert said == [f"{url}: 1 new, 0 updated, 0 failed (0 known)"]
    assert store.feed_states().get(url) is None and store.feed_states().all() == []


def test_a_dead_feed_backs_off_and_recovers(settings, news):
    store = open_store(settings)
    config = WatchConfig.from_settings(settings)
    news.publish(1)
    news.dead = True
    now = [1_000_000.0]
    interval = settings.feed_interval_min * 60
    with Fetcher(config.ingest) as fetcher:
        state, line = poll_feed(
            FeedState(news.url("/news.xml")),
            store,
            config,
            fetcher,
            lambda: now[0],
        )
        assert "failed (HTTP 500" in line and state.failures == 1
        assert state.next_try == now[0] + 2 * interval
        hits = news.hits["/news.xml"]

        now[0] += interval  # due again by the schedule, but backing off
        state, line = poll_feed(state, store, config, fetcher, lambda: now[0])
        assert "backing off after 1 failures" in line and news.hits["/news.xml"] == hits

        now[0] = state.next_try
        state, _ = poll_feed(state, store, config, fetcher, lambda: now[0])
        assert state.failures == 2 and state.next_try == now[0] + 4 * interval
        assert "2 failures in a row (HTTP 500" in state.describe(now[0])

        news.dead = False
        now[0] = state.next_try
        state, line = poll_feed(state, store, config, fetcher, lambda: now[0])
        assert line.endswith(": 1 new, 0 updated, 0 failed (0 known)")
        assert (state.failures, state.next_try, state.last_error) == (0, 0.0, "")


def test_two_feeds_listing_the_same_article_store_it_once(settings, news):
    store = open_store(settings)
    config = WatchConfig.from_settings(settings)
    for number in (1, 2, 3):
        news.publish(number)
    with Fetcher(config.ingest) as fetcher:
        for feed in ("/news.xml", "/also.xml"):
            poll_feed(FeedState(news.url(feed)), store, config, fetcher)
    assert len(store.sources()) == 3 and store.count() == 3
    assert news.page_hits() == 3


def test_retention_removes_old_articles_everywhere(settings, news):
    store = open_store(settings)
    config = WatchConfig.from_settings(settings)
    news.publish(1, date="2024-01-01")
    news.publish(2, date="2024-06-01")
    with Fetcher(config.ingest) as fetcher:
        poll_feed(FeedState(news.url("/news.xml")), store, config, fetcher)
    cached = sum(1 for p in settings.embedding_cache_path.rglob("*") if p.is_file())
    line = apply_retention(store, 30, today=dt.date(2024, 6, 15))
    assert line.startswith("retention: removed 1 articles published before 2024-05-16 (")
    assert [s.url for s in store.sources()] == [news.url("/artikel/2")]
    assert store.lexical().ids == [f"{store.sources()[0].doc_id}#0"]
    assert sum(1 for p in settings.embedding_cache_path.rglob("*") if p.is_file()) < cached
    assert apply_retention(store, 30, today=dt.date(2024, 6, 15)) is None


def start_watch(env, news):
    return subprocess.Popen(
        [BERITA, "watch"],
        env=env
        | {"FEEDS": news.url("/news.xml"), "FEED_INTERVAL_MIN": "0.01", "LOG_LEVEL": "INFO"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(stream, predicate, limit=200):
    lines = []
    for line in stream:
        lines.append(line)
        if predicate(line) or len(lines) > limit:
            return lines
    return lines


def test_watch_finds_new_entries_without_restart_and_stops_on_sigterm(cli_env, news):
    news.publish(1)
    watch = start_watch(cli_env, news)
    try:
        read_until(watch.stdout, lambda line: "1 new" in line)
        news.publish(2)
        read_until(watch.stdout, lambda line: "1 new" in line and "(1 known)" in line)
        answer = json.loads(run_berita(cli_env, "ask", "--json", "Apa itu kabar002?").stdout)
        assert answer["passages"][0]["url"] == news.url("/artikel/2")
        feeds = run_berita(cli_env | {"FEEDS": news.url("/news.xml")}, "feeds").stdout
        assert feeds.startswith(news.url("/news.xml") + " — last success ")
        assert "— 2 stored — added by settings" in feeds
    finally:
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=30) == 0


def test_watch_killed_mid_poll_loses_and_duplicates_nothing(settings, cli_env, news):
    for number in range(30):
        news.publish(number)
    watch = start_watch(cli_env, news)
    read_until(
        watch.stderr, lambda line: line.rstrip().endswith(": added") and "/artikel/4" in line
    )
    watch.kill()
    watch.wait(timeout=30)
    stored_before = len(open_store(settings).sources())
    assert 5 <= stored_before < 30

    again = start_watch(cli_env, news)
    try:
        deadline = time.monotonic() + 120
        while len(open_store(settings).sources()) < 30 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=30)
    store = open_store(settings)
    assert len(store.sources()) == 30 and store.count() == 30  # each article once
    assert set(store.lexical().ids) == {
        pid for page in store.iter_passages(include=()) for pid in page["ids"]
    }
