"""Watch: poll the feeds on a schedule and store what is new (`berita watch`).

Polite and cheap: a conditional GET per feed (a 304 costs one request), no page fetched again
once an article with its URL is stored, exponential back-off for a feed that fails, a deadline
per poll. Feed state lives in the store (vectorstore.feeds), so the bot's /feeds and any
number of processes see the same thing, and a watcher killed mid-poll simply polls again.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable

from berita.ingest.article import canonical_url
from berita.ingest.config import WatchConfig
from berita.ingest.fetch import Fetcher, SourceError
from berita.ingest.pipeline import IngestSummary, store_items
from berita.ingest.sources import feed_entries, is_feed, iter_feed_pages
from berita.vectorstore.feeds import FeedState, FeedStates
from berita.vectorstore.store import PassageStore

MAX_BACKOFF_DOUBLINGS = 6  # a failing feed is tried at most every 64 intervals


def feeds_to_watch(configured: list[str], states: FeedStates) -> list[FeedState]:
    """FEEDS and FEEDS_FILE (new ones recorded on first sight), plus those admins added."""
    known = {state.url: state for state in states.all()}
    for url in configured:
        if url not in known:
            known[url] = FeedState(url)
            states.put(known[url])
    return [s for s in known.values() if s.added_by == "chat" or s.url in configured]


def poll_feed(
    state: FeedState,
    store: PassageStore,
    config: WatchConfig,
    fetcher: Fetcher,
    clock: Callable[[], float] = time.time,
    stop: threading.Event | None = None,
) -> tuple[FeedState, str]:
    """Poll one feed if it is due; returns its new state and one line saying what happened.

    The feed's validators are kept only when every new entry was stored, so a poll cut short
    (deadline, Ctrl-C, kill) or an entry that failed is fetched again next time.
    """
    now = clock()
    if state.next_try > now:
        wait = (state.next_try - now) / 60
        return state, f"{state.url}: backing off after {state.failures} failures ({wait:.1f} min)"
    try:
        fetched = fetcher.get(state.url, state.etag, state.last_modified)
        if not fetched.not_modified and not is_feed(fetched):
            raise SourceError("not an RSS or Atom feed")
    except SourceError as error:
        failures = state.failures + 1
        delay = config.feed_interval_min * 60 * 2 ** min(failures, MAX_BACKOFF_DOUBLINGS)
        failed = state.polled(
            now, failures=failures, next_try=now + delay, last_error=str(error)[:300]
        )
        return failed, (
            f"{state.url}: failed ({error}); {failures} in a row, next try in {delay / 60:.1f} min"
        )
    ok = {"last_success": now, "failures": 0, "next_try": 0.0, "last_error": ""}
    if fetched.not_modified:
        return state.polled(now, **ok), f"{state.url}: 0 new, 0 updated, 0 failed (not modified)"
    entries = feed_entries(fetched)
    known = state.stored_links()
    fresh = [
        entry
        for entry in entries
        if entry.link not in known and not store.has_url(canonical_url(entry.link))
    ]
    stored_now: set[str] = set()  # entry links whose page was stored (or found unchanged)

    def note(origin: str, outcome: str) -> None:
        if not outcome.startswith("failed"):
            stored_now.add(origin)

    summary = store_items(
        iter_feed_pages(fresh, fetcher),
        store,
        config.ingest,
        on_item=note,
        deadline=time.monotonic() + config.feed_poll_timeout_s,
        stop=stop,
    )
    complete = not (summary.failures or summary.out_of_time or summary.interrupted)
    validators = {"etag": fetched.etag, "last_modified": fetched.last_modified}
    fresh_links = {entry.link for entry in fresh}
    links = [e.link for e in entries if e.link not in fresh_links or e.link in stored_now]
    polled = state.polled(
        now,
        **ok,
        **(validators if complete else {"etag": "", "last_modified": ""}),
        stored=state.stored + summary.added + summary.updated,
        links=json.dumps(links),
    )
    if summary.interrupted:
        raise WatchInterrupted(polled)
    return polled, f"{state.url}: {_counts(summary)} ({len(entries) - len(fresh)} known)"


class WatchInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a poll; carries the feed's state to record before stopping."""

    def __init__(self, state: FeedState) -> None:
        super().__init__()
        self.state = state


def _counts(summary: IngestSummary) -> str:
    line = f"{summary.added} new, {summary.updated} updated, {summary.failed} failed"
    line += f", {summary.duplicates} duplicates skipped" if summary.duplicates else ""
    return line + ("; stopped at FEED_POLL_TIMEOUT_S" if summary.out_of_time else "")


def apply_retention(store: PassageStore, days: int, today: dt.date | None = None) -> str | None:
    """Remove the articles published more than `days` ago (and their cached vectors);
    returns a line saying so, or None when there were none."""
    cutoff = ((today or dt.date.today()) - dt.timedelta(days=days)).isoformat()
    old = store.published_before(cutoff)
    if not old:
        return None
    store.remove(old)
    store.commit()
    _, deleted = store.prune_embedding_cache()
    return (
        f"retention: removed {len(old)} articles published before {cutoff} "
        f"({deleted} cached vectors)"
    )


def watch(
    store: PassageStore,
    config: WatchConfig,
    say: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Poll every feed each FEED_INTERVAL_MIN until `stop` is set or Ctrl-C/SIGTERM."""
    stop = stop or threading.Event()
    states = store.feed_states()
    interval_s = config.feed_interval_min * 60
    with Fetcher(config.ingest) as fetcher:
        while not stop.is_set():
            started = time.monotonic()
            feeds = feeds_to_watch(config.feeds(), states)
            if not feeds:
                say("no feeds to watch: set FEEDS or FEEDS_FILE, or /feeds add URL in the bot")
            for state in feeds:
                try:
                    polled, line = poll_feed(state, store, config, fetcher, stop=stop)
                except WatchInterrupted as interrupted:
                    states.update(interrupted.state)
                    raise
                states.update(polled)
                say(line)
                if stop.is_set():
                    return
            if config.retention_days:
                removed = apply_retention(store, config.retention_days)
                if removed:
                    say(removed)
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
