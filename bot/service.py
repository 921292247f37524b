"""The bot's answering service: model and store work off the event loop, fresh after ingests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from berita.answer.answerer import Answer, Answerer
from berita.answer.conversation import Threads
from berita.ingest.pipeline import IngestSummary
from berita.settings import Settings
from berita.threads import SharedLock
from berita.vectorstore.check import log_check
from berita.vectorstore.feeds import FeedState, FeedStates
from berita.vectorstore.store import PassageStore, SourceInfo, StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreUnavailableError(RuntimeError):
    """The article store cannot be reached now."""


@dataclass(frozen=True)
class Overview:
    """What the bot knows: for /start and /about."""

    articles: int
    first: str
    last: str


class AnswerService:
    """Runs questions in a bounded thread pool (BOT_WORKERS answer at once) over a store the
    bot serves (the embedded store's owner) or reaches (CHROMA_HOST, or another owner), and
    follows other processes' writes: each refresh re-reads where the passages live and their
    revision. Questions and listings share the store (a shared lock); the refresh, a removal
    and opening the store have it alone (exclusive)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._executor = ThreadPoolExecutor(settings.bot_workers, thread_name_prefix="answer")
        self._adding = ThreadPoolExecutor(1, thread_name_prefix="add")  # one /add at a time
        self._add_stops: set[threading.Event] = set()  # each /add's; close() sets them
        self._closing = threading.Event()  # ends the background check of the store
        self._lock = SharedLock()
        self._opening = threading.Lock()  # one thread opens the answerer; the others wait
        self._answerer: Answerer | None = None
        self._outage = False  # the store was unreachable at the last refresh
        self.threads = Threads(settings.conversation_timeout_min * 60, settings.conversation_chats)

    # -- called on the event loop ---------------------------------------------------------

    async def start(self) -> None:
        """Open the store and load the models now, so the first question is not kept waiting
        (and a misconfigured reader or embedder stops the bot before it polls); then check the
        store in the background."""
        await self._run(self._open)
        # Checked before any /add, with a client of its own; questions go on meanwhile.
        self._adding.submit(log_check, self._own_store, self._closing)

    async def ask(self, question: str, thread: Hashable | None = None) -> Answer:
        """Answer a question without blocking the event loop; a follow-up is read with the
        latest turn of its `thread` (a chat, a chain of replies), which it then extends."""
        return await self._run(self._ask, question, thread)

    async def sources(self) -> list[SourceInfo]:
        """The stored articles, newest first."""
        return await self._run(self._sources)

    async def overview(self) -> Overview:
        """Article count and date range."""
        return await self._run(self._overview)

    async def remove(self, doc_ids: list[str]) -> dict[str, int]:
        """Delete articles; returns passages removed per id."""
        return await self._run(self._remove, doc_ids)

    async def feeds(self) -> list[FeedState]:
        """The watched feeds' states (FEEDS, FEEDS_FILE and those added here)."""
        return await self._run(self._feeds)

    async def add_feed(self, url: str) -> bool:
        """Watch another feed; False when it is watched already."""
        return await self._run(self._add_feed, url)

    async def remove_feed(self, url: str) -> str:
        """Stop watching a feed added here: "removed", "configured" (in settings) or "unknown"."""
        return await self._run(self._remove_feed, url)

    async def add(self, sources: list[str], limit_s: float) -> IngestSummary:
        """Ingest URLs (articles or feeds) in this process, one /add at a time, with the
        models already loaded; after `limit_s` seconds the run stops after the article in hand
        (a download under way ends), keeping what it stored. The answers see them next."""
        stop = threading.Event()
        self._add_stops.add(stop)
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(self._adding, self._guarded, self._add, sources, stop)
        try:
            summary = await asyncio.wait_for(asyncio.shield(running), limit_s)
        except TimeoutError:
            stop.set()
            summary = await running
        finally:
            self._add_stops.discard(stop)
        await self.refresh()
        return summary

    async def refresh(self) -> bool:
        """Reopen the store if another process changed it; True when it did."""
        return await self._run(self._refresh)

    def close(self) -> None:
        """Stop the worker threads (an /add under way stops after the article in hand), then
        let go of the store (an embedded one's server stops)."""
        self._closing.set()
        for stop in list(self._add_stops):
            stop.set()
        self._adding.shutdown(wait=True, cancel_futures=True)
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._answerer is not None:
            self._answerer.retriever.store.close()

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._guarded, function, *args)

    def _guarded(self, function: Callable[..., T], *args: object) -> T:
        """Run on a worker; a failure because the store server went away is reported as
        StoreUnavailableError, whatever the client raised."""
        try:
            return function(*args)
        except (StoreUnavailableError, StoreError):
            raise
        except Exception as error:
            if self._reachable():
                raise
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from None

    def _reachable(self) -> bool:
        answerer = self._answerer
        if answerer is None or not answerer.retriever.store.remote:
            return True
        try:
            answerer.retriever.store.client.heartbeat()
        except Exception:  # noqa: BLE001 - any failure to reach it means it is down
            return False
        return True

    # -- worker threads ---------------------------------------------------------------------

    def _ready(self) -> Answerer:
        with self._opening:
            return self._answerer or self._open_answerer()

    def _open_answerer(self) -> Answerer:
        """Open the store and load the models (callers hold `_opening`)."""
        from berita.answer.components import open_answerer, setting_errors

        try:  # the bot serves an embedded store to every other berita process
            self._answerer = open_answerer(self.settings, serve=True)
        except setting_errors():
            raise  # a setting to fix, whether or not the store is up
        except StoreError as error:
            raise StoreUnavailableError(str(error)) from None
        except Exception as error:
            if self.settings.server_mode:  # a server that is down fails in many ways
                raise StoreUnavailableError(f"{type(error).__name__}: {error}") from None
            raise
        return self._answerer

    def _open(self) -> None:
        with self._lock.exclusive():
            self._ready()

    def _ask(self, question: str, thread: Hashable | None) -> Answer:
        context = None if thread is None else self.threads.context(thread)
        with self._lock.shared():
            answerer = self._ready()
        history = () if thread is None else self.threads.history(thread)
        standalone = answerer.standalone(question, context, history)  # holds no lock
        with self._lock.shared():
            answer = self._ready().extract(question, self.settings.retrieve_k, context, standalone)
        answer = answerer.generate(answer)
        if thread is not None:
            self.threads.add(thread, answer.turn())
        return answer

    def _add(self, sources: list[str], stop: threading.Event) -> IngestSummary:
        from berita.ingest.config import IngestConfig
        from berita.ingest.pipeline import ingest

        with self._own_store() as store:
            return ingest(sources, store, IngestConfig.from_settings(self.settings), stop=stop)

    @contextlib.contextmanager
    def _own_store(self) -> Iterator[PassageStore]:
        """A store client of its own (for a long job: questions go on beside it), opened once
        the answerer's store is served or reached, and let go after."""
        from berita.answer.components import open_store

        with self._lock.shared():
            self._ready()
        store = open_store(self.settings, serve=True)
        try:
            yield store
        finally:
            store.close()

    def _sources(self) -> list[SourceInfo]:
        with self._lock.shared():
            return self._ready().retriever.store.sources()

    def _overview(self) -> Overview:
        sources = self._sources()
        dates = sorted(s.published for s in sources if s.published)
        return Overview(len(sources), dates[0] if dates else "", dates[-1] if dates else "")

    def _feed_states(self) -> FeedStates:
        with self._lock.shared():
            return self._ready().retriever.store.feed_states()

    def _feeds(self) -> list[FeedState]:
        from berita.ingest.watch import feeds_to_watch

        return feeds_to_watch(self.settings.configured_feeds(), self._feed_states())

    def _add_feed(self, url: str) -> bool:
        states = self._feed_states()
        if url in self.settings.configured_feeds() or states.get(url):
            return False
        states.put(FeedState(url, added_by="chat"))
        return True

    def _remove_feed(self, url: str) -> str:
        if url in self.settings.configured_feeds():
            return "configured"
        return "removed" if self._feed_states().remove(url) else "unknown"

    def _remove(self, doc_ids: list[str]) -> dict[str, int]:
        with self._lock.exclusive():
            store = self._ready().retriever.store
            removed = store.remove(doc_ids)
            if any(removed.values()):
                store.commit()
            return removed

    def _refresh(self) -> bool:
        with self._lock.exclusive():
            if self._answerer is None and not self._outage:
                return False  # not opened yet: the first request opens it
            try:
                if self._answerer is None:  # down at the last refresh: try to reopen
                    self._ready()
                    changed = True
                else:
                    store = self._answerer.retriever.store
                    before = store.revision()
                    store.refresh()
                    changed = store.revision() != before
            except Exception as error:  # noqa: BLE001 - logged once per outage
                if not self._outage:
                    log.warning("store unavailable: %s", str(error)[:200])
                self._outage = True
                self._answerer = None  # requests reopen it, or say it is down
                return False
            if self._outage:
                log.warning("store available again")
                self._outage = False
            if not changed:
                return False
            log.info(
                "store changed (revision %s): reloaded", self._ready().retriever.store.revision()
            )
            return True
