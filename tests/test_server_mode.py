"""The same ingest and ask against a real `chroma run` server."""

import json

import pytest

from tests.conftest import SEED, ChromaServer, free_port, run_berita


@pytest.fixture
def chroma_server(tmp_path):
    with ChromaServer(tmp_path / "server-data") as server:
        yield server.port


def test_ingest_and_ask_through_a_chroma_server(cli_env, chroma_server, tmp_path):
    env = {
        **cli_env,
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(chroma_server),
        "CHROMA_PATH": str(tmp_path / "unused"),
    }
    done = run_berita(env, "ingest", str(SEED))
    assert done.returncode == 0, done.stderr
    assert run_berita(env, "ingest", str(SEED)).stdout.startswith("0 added, 0 updated, 1 unchanged")
    assert not (tmp_path / "unused").exists()

    # A reader elsewhere (its own lexical cache) sees the same passages.
    env["LEXICAL_CACHE_PATH"] = str(tmp_path / "other-reader")
    answer = json.loads(run_berita(env, "ask", "--json", "Siapa juru bicara Kremlin?").stdout)
    assert "Peskov" in answer["answer"]
    assert answer["citations"] == ["seed-csto-armenia"]
    assert (tmp_path / "other-reader").is_dir()

    assert run_berita(env, "remove", "seed-csto-armenia").returncode == 0
    gone = json.loads(run_berita(env, "ask", "--json", "Siapa juru bicara Kremlin?").stdout)
    assert gone["abstained"] and gone["passages"] == []


def test_unreachable_server_is_one_clear_line(cli_env):
    env = {**cli_env, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(free_port())}
    done = run_berita(env, "sources")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("berita: cannot reach the Chroma server at 127.0.0.1:")
