"""Writers on several machines take turns at one Chroma server: the write lease.

The store's file lock orders the writers of one machine; a lease kept on the server orders the
machines. Chroma has no compare-and-set, but an `add` of an id that is already stored is
ignored, and every client then reads the same first record. So the lease is a run of numbered
records in the collection `<CHROMA_COLLECTION>.writer`: a writer takes turn n + 1 by adding
it, and holds the lease when it reads its own name in it and no later turn exists.

- The holder shows it is alive by changing its record's `beat` every STALE_S / 6 seconds (a
  thread does it, so a long re-index keeps its turn).
- A waiter that sees the same turn and beat for CHROMA_WRITER_STALE_S on its own clock (the
  machines' clocks need not agree) takes the next turn: a writer killed with SIGKILL, or cut
  off from the server, is replaced after that long.
- The holder marks its turn `free` when it is done, and deletes the turns before its own.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

import chromadb

log = logging.getLogger(__name__)
POLL_S = 0.25
BEATS_PER_STALE = 6


class LeaseTimeoutError(RuntimeError):
    """Another writer kept the lease for the whole wait; the message is one line."""


def _turn_id(turn: int) -> str:
    return f"{turn:012d}"


class WriteLease:
    """The write lease of one collection on a Chroma server, for one writer (not shared by
    threads: the store's file lock lets one thread of a machine in at a time). Re-entrant."""

    def __init__(self, client: chromadb.ClientAPI, collection: str, stale_s: float) -> None:
        self.name = f"{collection}.writer"
        self.stale_s = stale_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._records = client.get_or_create_collection(self.name, embedding_function=None)
        self._turn = 0
        self._depth = 0
        self._done = threading.Event()
        self._beating: threading.Thread | None = None

    def acquire(self, timeout: float) -> None:
        """Hold the lease, waiting up to `timeout` seconds for another writer to finish."""
        if self._depth:
            self._depth += 1
            return
        deadline = time.monotonic() + timeout
        seen: tuple[int, Any] | None = None
        seen_at = time.monotonic()
        while True:
            turns = self._turns()
            last = max(turns, default=0)
            record = turns.get(last, {})
            if (last, record.get("beat")) != seen:
                seen, seen_at = (last, record.get("beat")), time.monotonic()
            stale = time.monotonic() - seen_at >= self.stale_s
            if not record or record.get("free") or stale:
                if stale:
                    log.warning(
                        "the writer %s showed no sign of life for %.0f s: taking its turn",
                        record.get("holder"),
                        self.stale_s,
                    )
                if self._take(last + 1):
                    return
                continue
            if time.monotonic() >= deadline:
                raise LeaseTimeoutError(
                    f"another writer ({record.get('holder')}) kept the store's write lease on "
                    f"the Chroma server for {timeout:.0f} s; try again when it has finished"
                )
            time.sleep(POLL_S)

    def release(self) -> None:
        """Let the lease go (the outermost release marks the turn free)."""
        self._depth -= 1
        if self._depth:
            return
        self._done.set()
        if self._beating:
            self._beating.join()
        try:
            if max(self._turns(), default=0) == self._turn:
                self._write(self._turn, beat=-1, free=True)
        except Exception as error:  # noqa: BLE001 - the turn then ends by going stale
            log.warning("could not free the write lease (%s): it frees itself", error)

    # -- turns ----------------------------------------------------------------------------

    def _turns(self) -> dict[int, dict]:
        found = self._records.get(include=["metadatas"])
        return {
            int(turn): metadata or {}
            for turn, metadata in zip(found["ids"], found["metadatas"], strict=True)
        }

    def _write(self, turn: int, *, beat: int, free: bool = False) -> None:
        self._records.update(
            ids=[_turn_id(turn)],
            metadatas=[{"holder": self.holder, "beat": beat, "free": free}],
        )

    def _take(self, turn: int) -> bool:
        """Add turn `turn` (ignored when another writer added it first); ours when the record
        names us and it is the last turn (a slow waiter may add one that was deleted)."""
        first = {"holder": self.holder, "beat": 0, "free": False}
        self._records.add(ids=[_turn_id(turn)], embeddings=[[1.0]], metadatas=[first])
        turns = self._turns()
        if max(turns, default=0) != turn or turns[turn].get("holder") != self.holder:
            return False
        self._turn, self._depth = turn, 1
        earlier = [_turn_id(old) for old in turns if old < turn]
        if earlier:
            self._records.delete(ids=earlier)
        self._done = threading.Event()
        self._beating = threading.Thread(target=self._beat, name="write-lease", daemon=True)
        self._beating.start()
        return True

    def _beat(self) -> None:
        beat = 0
        while not self._done.wait(self.stale_s / BEATS_PER_STALE):
            beat += 1
            try:
                if max(self._turns(), default=0) != self._turn:
                    log.error("lost the store's write lease: a writer took it as stale")
                    return
                self._write(self._turn, beat=beat)
            except Exception as error:  # noqa: BLE001 - the next beat tries again
                log.warning("could not renew the write lease (%s)", error)
