"""The reader answers through ONNX Runtime (`reader.onnx`, whose weights are the shipped
safetensors shards) exactly as the PyTorch reader it was trained as, and without torch; its
int8 graph (`reader-int8.onnx`, READER_INT8) within a small distance of that."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from berita.reader.loading import ReaderError, load_reader
from berita.reader.refusal import log_odds
from tests.conftest import SEED

WEIGHTS = SEED.parents[2] / "reader" / "weights" / "v3"
QUESTIONS = ["Siapa juru bicara Kremlin?", "which countries left CSTO?", "Kapan?"]


def _sentences() -> list[str]:
    text = json.loads(SEED.read_text(encoding="utf-8").splitlines()[0])["text"]
    lines = [line for line in text.splitlines() if line.strip()]
    return [*lines[:12], "", "x" * 3000]  # an empty one and one cut to fit


def test_the_shipped_graph_is_what_the_exporter_writes_for_the_shipped_weights(tmp_path):
    from training.export_onnx import write_graph

    copy = tmp_path / "v3"
    shutil.copytree(WEIGHTS, copy)
    for graph in ("reader.onnx", "reader-int8.onnx"):
        (copy / graph).unlink()
    write_graph(copy)
    for graph in ("reader.onnx", "reader-int8.onnx"):
        assert (copy / graph).read_bytes() == (WEIGHTS / graph).read_bytes()


def test_the_shipped_encoder_graph_is_what_the_exporter_writes(tmp_path, monkeypatch):
    import training.export_onnx
    from berita.reader.e5 import ENCODER_GRAPH

    monkeypatch.setattr(training.export_onnx, "ENCODER_GRAPH", tmp_path / "e5-encoder.onnx")
    written = training.export_onnx.write_encoder_graph()
    assert written.read_bytes() == ENCODER_GRAPH.read_bytes()


def test_onnx_runtime_reads_as_the_pytorch_reader_does():
    import torch

    from berita.reader.e5 import E5File, batch_tensors
    from berita.reader.inference import Reader, pair_ids
    from berita.reader.model import ReaderNet, load_weights

    e5 = E5File()
    reader = Reader(WEIGHTS, threads=1, e5=e5, int8=False)
    state, card = load_weights(WEIGHTS)
    net = ReaderNet(e5, card["layers"])
    net.load_state_dict(state)
    net.eval()
    sentences = _sentences()
    for question in QUESTIONS:
        [asked] = e5.tokenizer.e5_ids([question], is_query=True)
        read = e5.tokenizer.e5_ids(sentences, is_query=False)
        ids, mask = batch_tensors([pair_ids(asked, r, e5.bos, e5.eos) for r in read], e5.pad)
        with torch.inference_mode():
            expected = torch.sigmoid(net(ids, mask)).numpy()
        found = reader.probabilities(question, sentences)
        assert found.shape == (len(sentences),)
        assert np.abs(found - expected).max() < 1e-5
    assert reader.probabilities(QUESTIONS[0], []).shape == (0,)


def test_the_int8_graph_reads_within_a_fifth_of_a_logit_of_float32():
    """Measured on news-dev (800 question-sentence pairs): 0.04 apart on average, 0.24 at
    most, the best of 20 sentences the same for 38 questions in 40."""
    from berita.reader.inference import Reader

    exact, int8 = Reader(WEIGHTS, threads=1, int8=False), Reader(WEIGHTS, threads=1)
    sentences = _sentences()
    for question in QUESTIONS:
        expected = log_odds(exact.probabilities(question, sentences))
        found = log_odds(int8.probabilities(question, sentences))
        assert 0 < np.abs(found - expected).max() < 0.3, question
        assert found.argmax() == expected.argmax(), question


@pytest.mark.parametrize(("graph", "int8"), [("reader-int8.onnx", True), ("reader.onnx", False)])
def test_a_reader_folder_without_its_graph_says_how_to_write_it(tmp_path, graph, int8):
    folder = tmp_path / "mine"
    shutil.copytree(WEIGHTS, folder)
    (folder / graph).unlink()
    with pytest.raises(ReaderError) as error:
        load_reader(folder, 1, None, int8)
    message = str(error.value)
    assert "\n" not in message
    assert graph in message and f"python -m training.export_onnx {folder}" in message


def test_ingesting_and_answering_with_the_reader_import_no_torch(cli_env):
    modules = "('onnxruntime', 'torch', 'transformers', 'langsmith')"
    probe = (
        "import json, sys\n"
        "from berita.app.cli import main\n"
        f"assert main(['ingest', {str(SEED)!r}]) == 0\n"
        f"print('IMPORTED', json.dumps([m for m in {modules} if m in sys.modules]))\n"
        "main(['ask', '--json', 'Siapa juru bicara Kremlin?'])\n"
        f"print('IMPORTED', json.dumps([m for m in {modules} if m in sys.modules]))\n"
    )
    env = cli_env | {"EMBEDDING_CACHE_PATH": ""}  # every passage embedded
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    lines = done.stdout.splitlines()
    marks = [n for n, line in enumerate(lines) if line.startswith("IMPORTED ")]
    ingested, answered = (json.loads(lines[n].removeprefix("IMPORTED ")) for n in marks)
    assert ingested == ["onnxruntime"]  # the passages' encoder
    assert "Peskov" in json.loads("\n".join(lines[marks[0] + 1 : marks[1]]))["answer"]
    assert answered == ["onnxruntime"]


def test_reads_at_once_are_as_many_as_the_cores_hold(monkeypatch):
    """Each read runs on `threads` threads; more reads at once than the cores hold would only
    fight over them (a burst to the bot on 2 cores: ~40 s instead of 33-37)."""
    import os
    import threading
    import time

    from berita.reader.inference import Reader

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(4)), raising=False)
    reader = Reader(WEIGHTS, threads=2)
    running, most = [0], [0]
    counted = threading.Lock()

    class Session:
        def run(self, names, feeds):
            with counted:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with counted:
                running[0] -= 1
            return [np.zeros(len(feeds["mask"]), dtype=np.float32)]

    reader._session = Session()
    readers = [
        threading.Thread(target=reader.probabilities, args=(QUESTIONS[0], ["a", "b"]))
        for _ in range(6)
    ]
    for started in readers:
        started.start()
    for started in readers:
        started.join()
    assert most[0] == 2  # 4 cores, 2 threads a read
