"""`berita check [--repair]` on a store with the damage several engines on one folder leave: a
passage whose text and metadata are stored but whose vector is not (Chroma then fails every
`get` that includes it with "Error finding id"). Questions are answered from the rest."""

import json
import shutil
import signal
import sqlite3
import subprocess

from berita.answer.answerer import Answerer
from berita.app import cli
from tests.conftest import BERITA, SEED, run_berita

DAMAGED = "seed-csto-armenia#1"
QUESTIONS = ["Siapa juru bicara Kremlin?", "which countries left CSTO?", "Apa julukan CSTO?"]


def _lose_vector(chroma_path, passage_id):
    """Leave the passage's text and metadata but not its vector, as a flush cut short does:
    its write is dropped from Chroma's log and the vector index is rebuilt from the rest."""
    with sqlite3.connect(chroma_path / "chroma.sqlite3") as db:
        assert db.execute("DELETE FROM embeddings_queue WHERE id = ?", (passage_id,)).rowcount
        folders = db.execute("SELECT id FROM segments WHERE scope = 'VECTOR'").fetchall()
    for (segment,) in folders:
        shutil.rmtree(chroma_path / segment, ignore_errors=True)


def _ask(env, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join(json.dumps({"id": q, "question": q}) for q in QUESTIONS), "utf-8")
    done = run_berita(env, "ask", "--batch", str(batch))
    return done, [json.loads(line) for line in done.stdout.splitlines()]


def test_a_passage_without_its_vector_is_routed_around_found_and_repaired(
    settings, cli_env, tmp_path
):
    assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
    assert run_berita(cli_env, "check").stdout.splitlines() == [
        "4 passages of 1 articles checked",
        "the store is sound",
    ]
    _, clean = _ask(cli_env, tmp_path)

    _lose_vector(settings.chroma_path, DAMAGED)
    asked, answers = _ask(cli_env, tmp_path)
    assert asked.returncode == 0 and "Traceback" not in asked.stderr
    assert len(answers) == 3 and answers[0]["answer"] and not answers[0]["abstained"]
    assert asked.stderr.count(f"passage {DAMAGED} has no vector") == 1  # logged once

    found = run_berita(cli_env, "check")
    assert found.returncode == 1
    assert "1 passages without their vector" in found.stdout
    assert "damaged articles: seed-csto-armenia" in found.stdout

    repaired = run_berita(cli_env, "check", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired: 1 articles written again from their stored text" in repaired.stdout
    assert repaired.stdout.endswith("the store is sound\n")  # checked again after repairing
    _, mended = _ask(cli_env, tmp_path)
    assert [(a["answer"], a["citations"]) for a in mended] == [
        (a["answer"], a["citations"]) for a in clean
    ]


def test_a_batch_goes_on_past_a_question_that_fails(cli_env, tmp_path, monkeypatch, capsys):
    assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
    for name, value in cli_env.items():
        monkeypatch.setenv(name, value)
    asked = Answerer.ask

    def fails_once(self, question, *args, **kwargs):
        if question == QUESTIONS[1]:
            raise ValueError("a fault injected into one question")
        return asked(self, question, *args, **kwargs)

    monkeypatch.setattr(Answerer, "ask", fails_once)
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        "\n".join(json.dumps({"id": n, "question": q}) for n, q in enumerate(QUESTIONS))
    )
    assert cli.main(["ask", "--batch", str(batch)]) == cli.EXIT_FAILED_ITEMS
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == [0, 2]
    assert err.strip() == f"berita: {batch}:2: not answered (ValueError)"


def test_berita_watch_checks_the_store_at_start_and_says_what_is_damaged(settings, cli_env):
    assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
    _lose_vector(settings.chroma_path, DAMAGED)
    watch = subprocess.Popen(
        [BERITA, "watch"],
        env=cli_env | {"FEED_INTERVAL_MIN": "60"},
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in watch.stderr:
            if "the store is damaged" in line:
                break
    finally:
        watch.send_signal(signal.SIGTERM)
        rest = watch.communicate(timeout=30)[1]
    assert watch.returncode == 0, rest
    assert "1 passages without their vector" in line
    assert "damaged articles: seed-csto-armenia" in line
    assert "`berita check --repair` mends them" in line
