"""Shared fixtures: settings on temporary stores, a local news site, the seed sample."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from berita.settings import Settings, load_settings
from tests.site import LocalSite

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "data" / "samples" / "seed.jsonl"
EVAL = REPO.parent / "shared" / "eval"


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
    )


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running `berita` as a subprocess on the same store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_", "EMBEDDING_"))}
    env.update(
        CHROMA_PATH=str(settings.chroma_path),
        LEXICAL_CACHE_PATH=str(settings.lexical_cache_path),
        EMBEDDING_CACHE_PATH=str(settings.embedding_cache_path),
    )
    return env


def run_berita(env: dict[str, str], *args: str, input_text: str | None = None):
    """Run the real `berita` command; returns the CompletedProcess."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "berita"), *args],
        env=env,
        cwd=REPO,
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
