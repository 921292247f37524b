"""One process opens an embedded store folder: its owner.

Chroma's embedded engine must not be opened twice on one folder (two engines flushing one HNSW
index corrupt it). So every berita process goes through `connect`:

- A process that serves (the bot, `berita watch`) takes the folder's owner lock, starts Chroma's
  own server (`chroma run`) on a free local port as its child, writes `owner.json` (its pid,
  the server's pid and port) and talks to that server. The child dies with it, even on
  `kill -9` (Linux's parent-death signal), and the lock, an OS file lock, is released then too.
- Any other process (`berita ingest`, `ask`, `remove`...) talks to the owner's server when one
  answers; when none runs it takes the lock and opens the folder itself, alone.
- A serving process that finds the folder held by a lone process asks it to hand the folder
  over (a `handover` file); an ingest does so between two articles and goes on as a client.
- A client whose owner went away (crashed, stopped) connects again: to a new owner, or as the
  one that takes the lock. A stale lock cannot exist: the OS drops it with its process.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import chromadb
import httpx
from chromadb.config import Settings as ChromaSettings
from filelock import FileLock, Timeout

log = logging.getLogger(__name__)
OWNER_LOCK = "owner.lock"
OWNER_FILE = "owner.json"
HANDOVER_FILE = "handover"
SERVER_START_S = 60.0
POLL_S = 0.2
SAY_EVERY_S = 10.0


def chroma_settings() -> ChromaSettings:
    """Fresh client settings each time: chromadb's clients write their own into the object."""
    return ChromaSettings(anonymized_telemetry=False)


class OwnerError(RuntimeError):
    """The folder's owner cannot be reached or started; the message is one line."""


@dataclass
class _Held:
    """A folder this process holds: its lock, the server it runs (None: opened directly) and
    how many of its clients are open here (the last to let go releases it)."""

    lock: FileLock
    server: subprocess.Popen | None
    port: int = 0
    users: int = 1


_held: dict[Path, _Held] = {}


def connect(
    folder: Path,
    *,
    serve: bool,
    owner_first_s: float = 0.0,
    say: Callable[[str], None] = log.warning,
) -> chromadb.ClientAPI:
    """A client of the embedded store in `folder`, opened the one safe way (module docstring):
    as its serving owner (`serve`), through the owner's server, or alone under its lock. Waits
    while another process holds the folder alone, saying so every SAY_EVERY_S; for
    `owner_first_s` it waits for an owner only (a process that just handed the folder over)."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    held = _held.get(folder)
    if held is not None:
        held.users += 1
        return _client_of(folder, held)
    lock = FileLock(folder / OWNER_LOCK)
    said, owner_only_until = 0.0, time.monotonic() + owner_first_s
    while True:
        owner = _live_owner(folder)
        if owner is not None:
            return _http_client(owner["port"])
        try:
            if time.monotonic() < owner_only_until:
                raise Timeout(str(lock.lock_file))
            lock.acquire(timeout=0)
        except Timeout:
            if serve:
                (folder / HANDOVER_FILE).touch()  # a lone holder: please hand the folder over
            if time.monotonic() - said > SAY_EVERY_S:
                holder = _read_owner(folder)
                say(f"waiting for the store at {folder}: {_describe(holder)} holds it")
                said = time.monotonic()
            time.sleep(POLL_S)
            continue
        return _take(folder, lock, serve)


def release(folder: Path, *, final: bool = False) -> None:
    """A client of a folder this process holds lets go (its Chroma client closed): the last
    one (or the process's end, `final`) stops the server it runs, if any, and drops the lock."""
    folder = folder.resolve()
    held = _held.get(folder)
    if held is None:
        return
    held.users -= 1
    if held.users > 0 and not final:
        return
    del _held[folder]
    if held.server is not None:
        _stop(held.server)
    with contextlib.suppress(OSError):
        (folder / OWNER_FILE).unlink()
    held.lock.release(force=True)


def alone(folder: Path) -> bool:
    """Whether this process opened the folder itself (no server: nobody else may open it)."""
    held = _held.get(folder.resolve())
    return bool(held and held.server is None)


def handover_requested(folder: Path) -> bool:
    """Whether a serving process waits for this process to hand the folder over."""
    return alone(folder) and (folder / HANDOVER_FILE).exists()


# -- inside -----------------------------------------------------------------------------------


def _take(folder: Path, lock: FileLock, serve: bool) -> chromadb.ClientAPI:
    """Hold the folder now that its lock is ours: serve it, or open it alone."""
    with contextlib.suppress(OSError):
        (folder / HANDOVER_FILE).unlink()
    stale = _read_owner(folder)
    if stale:  # a crashed owner: its server died with it (parent-death signal); make sure
        _wait_gone(int(stale.get("server_pid", 0)))
        with contextlib.suppress(OSError):
            (folder / OWNER_FILE).unlink()
    if not serve:
        _held[folder] = _Held(lock, None)
        return _client_of(folder, _held[folder])
    try:
        server, port = _start_server(folder)
    except BaseException:
        lock.release(force=True)
        raise
    _held[folder] = _Held(lock, server, port)
    record = {"pid": os.getpid(), "server_pid": server.pid, "port": port}
    tmp = folder / f".{OWNER_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(record), encoding="utf-8")
    tmp.replace(folder / OWNER_FILE)
    atexit.register(release, folder, final=True)
    log.info("serving the store at %s on port %d (chroma run, pid %d)", folder, port, server.pid)
    return _client_of(folder, _held[folder])


def _client_of(folder: Path, held: _Held) -> chromadb.ClientAPI:
    """A client of a folder this process holds: its engine, or the server it runs."""
    if held.server is None:
        return chromadb.PersistentClient(path=str(folder), settings=chroma_settings())
    return _http_client(held.port)


def _http_client(port: int) -> chromadb.ClientAPI:
    return chromadb.HttpClient(host="127.0.0.1", port=port, settings=chroma_settings())


def _read_owner(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _live_owner(folder: Path) -> dict | None:
    """The owner record when its process lives and its server answers."""
    record = _read_owner(folder)
    if not record or not _alive(int(record.get("pid", 0))):
        return None
    return record if _answers(int(record.get("port", 0))) else None


def _describe(record: dict | None) -> str:
    if record and _alive(int(record.get("pid", 0))):
        return f"its owner (pid {record['pid']}, starting)"
    return "another berita process (a lone ingest, ask or remove; it ends, or hands it over)"


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc to ask: it answered the signal
    return state not in ("Z", "X")


def _answers(port: int) -> bool:
    if not port:
        return False
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).is_success
    except httpx.HTTPError:
        return False


def _wait_gone(pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    if _alive(pid):  # not ours to wait on any longer: it holds the folder's files
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before it runs: SIGKILL it when its parent dies (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _spawn(command: list[str]) -> subprocess.Popen:
    """Start the server from a thread that lives as long as it does: the parent-death signal
    follows the thread that started a child, and a worker thread (the bot's) may end first."""
    started: list[subprocess.Popen | BaseException] = []
    ready = threading.Event()

    def keep() -> None:
        try:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            started.append(error)
            ready.set()
            return
        started.append(child)
        ready.set()
        child.wait()

    threading.Thread(target=keep, name="chroma-server", daemon=True).start()
    ready.wait()
    if isinstance(started[0], BaseException):
        raise started[0]
    return started[0]


def _start_server(folder: Path) -> tuple[subprocess.Popen, int]:
    """`chroma run` over the folder on a free local port, once its heartbeat answers."""
    chroma = Path(sys.executable).parent / "chroma"
    for _ in range(3):  # a port taken between the probe and the bind: another one
        port = _free_port()
        server = _spawn(
            [str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)]
        )
        deadline = time.monotonic() + SERVER_START_S
        while server.poll() is None and time.monotonic() < deadline:
            if _answers(port):
                return server, port
            time.sleep(POLL_S)
        _stop(server)
    raise OwnerError(f"cannot start `chroma run` for the store at {folder}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
