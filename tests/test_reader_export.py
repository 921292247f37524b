"""`berita export-reader`: berita's own reader as a folder that sentence-transformers'
`CrossEncoder` loads (no berita code) and that scores pairs as berita's ONNX reader does."""

import json
from pathlib import Path

import numpy as np
import pytest

from berita.reader.e5 import E5File
from berita.reader.inference import Reader, pair_ids
from berita.reader.refusal import log_odds
from tests.conftest import SEED, run_berita

WEIGHTS = SEED.parents[2] / "reader" / "weights" / "v3"
QUESTIONS = ["Siapa juru bicara Kremlin?", "which countries left CSTO?", "Kapan  itu？"]
ODD_TEXTS = [
    "ＡＢＣ　全角 and ﬁ ligatures, x², ½ and Ⅻ",
    "tabs\tand\nnew lines\r\n and a zero\u200bwidth space",
    "e\u0301 and a\u0308 combining, café naïve",
    "देवनागरी ไทย 한국어 العربية 🎉",
    "   leading and   inner spaces",
]

pytestmark = pytest.mark.slow  # writes ~490 MB and loads it with PyTorch


def _passages() -> list[str]:
    text = json.loads(SEED.read_text(encoding="utf-8").splitlines()[0])["text"]
    lines = [line for line in text.splitlines() if line.strip()]
    return [*lines[:10], *ODD_TEXTS, " ".join(lines)]  # the last one cut to fit


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    from berita.reader.export import export_reader

    return export_reader(WEIGHTS, tmp_path_factory.mktemp("export") / "reader")


def test_cross_encoder_loads_the_folder_and_scores_as_berita_does(exported):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(exported), device="cpu")
    reader = Reader(WEIGHTS, threads=2, int8=False)
    passages = _passages()
    for question in QUESTIONS:
        expected = log_odds(reader.probabilities(question, passages))
        found = log_odds(model.predict([(question, passage) for passage in passages]))
        assert np.abs(found - expected).max() < 1e-4, question
        assert np.ptp(expected) > 0.05  # the pairs are told apart, not all alike


def test_its_tokenizer_gives_berita_tokens_prefixes_and_cut(exported):
    from transformers import AutoTokenizer

    e5 = E5File()
    tokenizer = AutoTokenizer.from_pretrained(str(exported))
    passages = _passages()
    for question in QUESTIONS:
        [asked] = e5.tokenizer.e5_ids([question], is_query=True)
        for passage, read in zip(
            passages, e5.tokenizer.e5_ids(passages, is_query=False), strict=True
        ):
            found = tokenizer(question, passage, truncation=True)["input_ids"]
            assert found == pair_ids(asked, read, e5.bos, e5.eos), (question, passage[:40])
    assert len(found) == 288  # the whole article was cut to the reader's length


def test_read_through_reader_model_it_answers_as_berita_does(exported, cli_env):
    assert run_berita(cli_env, "ingest", str(SEED)).returncode == 0
    cli_env = cli_env | {"READER_INT8": "false"}  # float32, as the cross-encoder reads
    through_st = cli_env | {"READER_MODEL": str(exported), "READER_PATH": str(exported)}
    for question in ["which countries left CSTO?", "Siapa presiden Prancis tahun 1850?"]:
        own = json.loads(run_berita(cli_env, "ask", "--json", question).stdout)
        other = json.loads(run_berita(through_st, "ask", "--json", question).stdout)
        assert (other["answer"], other["abstained"]) == (own["answer"], own["abstained"])
        assert other["citations"] == own["citations"]


def test_the_folder_carries_a_model_card_and_the_refusal_rules(exported):
    card = (exported / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlanguage: [id, en]\nlicense: cc-by-sa-4.0\n")
    assert "library_name: sentence-transformers" in card and "## Training data and licences" in card
    for name in ["refusal.json", "refusal-sentences.json"]:
        assert (exported / name).read_bytes() == (WEIGHTS / name).read_bytes()
    modules = json.loads((exported / "modules.json").read_text(encoding="utf-8"))
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "Pooling", "Dense"]


def test_an_existing_folder_is_refused_in_one_line(cli_env, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine", encoding="utf-8")
    result = run_berita(cli_env, "export-reader", str(taken))
    assert result.returncode == 2
    assert result.stderr == f"berita: {taken} exists and is not an empty folder: name a new one\n"
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    assert not list(tmp_path.glob(".taken.*"))  # nothing half-written beside it
