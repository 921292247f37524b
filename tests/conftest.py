"""Shared fixtures: settings on temporary stores, a local news site, the seed sample.

Every test runs in an empty working folder with none of berita's settings in its environment,
so neither a developer's `.env` nor their shell (an LLM key, an allow-list) changes a result;
everything a test needs ships in this repository.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from berita.settings import Settings, load_settings
from tests.site import LocalSite

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "data" / "samples" / "seed.jsonl"
SEED_SUITE = REPO / "data" / "eval" / "seed"
FLOODS = Path(__file__).with_name("floods.jsonl")  # two long articles with parallel facts
SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {"OPENAI_API_KEY"}


def clean_environment() -> dict[str, str]:
    """The process environment without any of berita's settings."""
    return {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}


@pytest.fixture(autouse=True)
def no_outside_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No `.env` (the working folder is empty), no setting from the developer's shell, and
    the default data and cache folders inside the test's folder, never the user's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the whole run, so each text is embedded once."""
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture
def settings(tmp_path: Path, embedding_cache: Path) -> Settings:
    """Settings for an empty embedded store in a temporary folder."""
    return load_settings(
        chroma_path=tmp_path / "chroma",
        lexical_cache_path=tmp_path / "lexical",
        embedding_cache_path=embedding_cache,
        chroma_host=None,
        allow_private_urls=True,  # the test sites listen on 127.0.0.1
    )


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running `berita` as a subprocess on the same store."""
    return clean_environment() | {
        "CHROMA_PATH": str(settings.chroma_path),
        "LEXICAL_CACHE_PATH": str(settings.lexical_cache_path),
        "EMBEDDING_CACHE_PATH": str(settings.embedding_cache_path),
        "ALLOW_PRIVATE_URLS": "true",
    }


BERITA = str(Path(sys.executable).parent / "berita")


def run_berita(env: dict[str, str], *args: str, input_text: str | None = None):
    """Run the real `berita` command in the test's own folder; returns the CompletedProcess."""
    return subprocess.run(
        [BERITA, *args],
        env=env,
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        input=input_text,
        timeout=300,
    )


@pytest.fixture
def site() -> Iterator[LocalSite]:
    """A small news site with an RSS feed, served on 127.0.0.1."""
    with LocalSite() as served:
        yield served


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ChromaServer:
    """A real `chroma run` server on 127.0.0.1 over a data folder; can be stopped and started
    again on the same port (an outage)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the server and wait until it answers its heartbeat."""
        chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        self.process = subprocess.Popen(
            [
                chroma,
                "run",
                "--path",
                str(self.path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
                if httpx.get(url, timeout=1).is_success:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        pytest.fail("chroma run did not start within 60 s")

    def stop(self) -> None:
        """Stop the server."""
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def flood_articles(path: Path, count: int, prefix: str = "art") -> str:
    """`count` short flood reports (ids and texts marked with `prefix`), as a JSONL file."""
    towns = ["Garut", "Bandung", "Bogor", "Cianjur", "Sumedang", "Tasikmalaya", "Bekasi"]
    records = [
        {
            "id": f"{prefix}-{n}",
            "title": f"Banjir di {towns[n % len(towns)]} hari ke-{n}",
            "text": f"Banjir merendam {100 + n} rumah di {towns[n % len(towns)]} pada hari ke-{n}. "
            f"Sebanyak {20 + n} warga mengungsi ke balai desa nomor {n} ({prefix}). "
            f"Petugas membuka dapur umum ke-{n} di kecamatan itu.",
        }
        for n in range(count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)
