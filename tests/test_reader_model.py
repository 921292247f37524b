"""READER_MODEL: any sentence-transformers cross-encoder reads instead of berita's reader, with
refusal rules of its own. The cross-encoder here is a tiny random BERT built offline: these
tests pin the wiring, not a reranker's judgement."""

import json

import numpy as np
import pytest

from berita.reader.cross_encoder import CrossEncoderReader
from berita.reader.loading import ReaderError
from berita.reader.refusal import RULE_FIELDS, Refusal, refusal_rules
from tests.conftest import SEED, run_berita
from tests.reader_data import write_training_data
from training.calibrate import main as calibrate
from training.train import prepare

QUESTION = "Siapa juru bicara Kremlin?"


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory):
    """A two-layer BERT reranker (one score a pair) with a word-level vocabulary, saved as
    `transformers` saves one: what `CrossEncoder(folder)` loads."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("reranker")
    words = sorted(set(SEED.read_text(encoding="utf-8").lower().split()))[:2000]
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (folder / "vocab.txt").write_text("\n".join([*special, *words]) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(special) + len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def test_a_cross_encoder_reads_as_sentence_transformers_scores_it(cross_encoder):
    from sentence_transformers import CrossEncoder

    passages = ["Juru bicara Kremlin Dmitry Peskov.", "Armenia keluar dari CSTO.", ""]
    found = CrossEncoderReader(str(cross_encoder), threads=1).probabilities(QUESTION, passages)
    expected = CrossEncoder(str(cross_encoder)).predict([(QUESTION, p) for p in passages])
    assert found.dtype == np.float32 and found.shape == (3,)
    assert np.allclose(found, expected, atol=1e-6)
    assert ((found > 0) & (found < 1)).all()  # the reranker's sigmoid


def test_without_rules_of_its_own_berita_says_how_to_get_them(cli_env, cross_encoder):
    assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
    env = cli_env | {"READER_MODEL": str(cross_encoder)}
    refused = run_berita(env, "ask", QUESTION)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "no refusal rule for the reader at" in line and "readers" in line  # not v2's rules
    assert "python -m training.calibrate" in line and "READER_THRESHOLD_ID" in line

    with_thresholds = env | {"READER_THRESHOLD_ID": "0.0", "READER_THRESHOLD_EN": "0.0"}
    answered = json.loads(run_berita(with_thresholds, "ask", "--json", QUESTION).stdout)
    assert not answered["abstained"] and answered["citations"] == ["seed-csto-armenia"]

    missing = env | {"READER_MODEL": "nobody/no-such-reranker", "HF_HUB_OFFLINE": "1"}
    gone = run_berita(missing, "ask", QUESTION)
    assert gone.returncode == 2
    assert gone.stderr.strip() == (
        "berita: READER_MODEL 'nobody/no-such-reranker' is not a local folder nor in the Hugging "
        "Face cache, and HF_HUB_OFFLINE is set: download it first or set READER_MODEL to a folder"
    )


@pytest.mark.slow  # a calibration run over generated suites
def test_calibration_fits_the_cross_encoders_own_rules(cross_encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the missing model below: said at once
    root = tmp_path / "data"
    root.mkdir()
    prepare(write_training_data(root), root / "eval", root / "bundle")
    rules = tmp_path / "rules"
    model = str(cross_encoder)
    suites = f"--eval={root / 'eval'}"
    calibrate([suites, f"--reader={rules}", f"--reader-model={model}", "--least=1"])
    fitted = json.loads((rules / "refusal.json").read_text())["rules"]["id"]
    reader = CrossEncoderReader(model, threads=1)
    rule = refusal_rules(reader.card, rules, {"id": None, "en": 0.4})["id"]
    assert rule == Refusal(*(fitted[f] for f in RULE_FIELDS))
    with pytest.raises(SystemExit, match=r"^--reader-model: READER_MODEL 'nobody/none'"):
        calibrate([suites, f"--reader={rules}", "--reader-model=nobody/none"])


def test_the_reader_models_rules_never_default_to_the_shipped_readers():
    from berita.settings import Settings

    assert Settings().reader_path.name == "v3"
    other = Settings(reader_model="BAAI/bge-reranker-v2-m3")
    assert other.reader_path.parts[-2:] == ("readers", "BAAI_bge-reranker-v2-m3")
    assert Settings(reader_model="x/y", reader_path="/srv/rules").reader_path.as_posix() == (
        "/srv/rules"
    )
    with pytest.raises(ReaderError, match="no refusal rule"):
        refusal_rules({}, other.reader_path, {"id": None, "en": None})
