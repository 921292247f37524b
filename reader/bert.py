"""The BERT encoder multilingual-e5 is, in plain PyTorch: the module and parameter names of
`transformers`' `BertModel` (so its state dicts load either way), without importing
`transformers` (seconds at every start). Post-LayerNorm sublayers, erf GELU, position ids from
0, token type 0, no pooler; `forward` gives the last layer's token vectors."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional


class _Embeddings(nn.Module):
    def __init__(self, words: nn.Module, hidden: int, positions: int, types: int, eps: float):
        super().__init__()
        self.word_embeddings = words
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(types, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        summed = (
            self.word_embeddings(ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings.weight[0]
        )
        return self.LayerNorm(summed)


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape

        def split(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, length, self.heads, -1).transpose(1, 2)

        attended = functional.scaled_dot_product_attention(
            split(self.query(x)), split(self.key(x)), split(self.value(x)), attn_mask=mask
        )
        return attended.transpose(1, 2).reshape(batch, length, hidden)


class _Residual(nn.Module):
    """A dense layer, then LayerNorm over it plus the sublayer's input."""

    def __init__(self, inputs: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(inputs, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(hidden, heads)
        self.output = _Residual(hidden, hidden, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, mask), x)


class _Intermediate(nn.Module):
    def __init__(self, hidden: int, ffn: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, ffn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional.gelu(self.dense(x))


class _Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int, eps: float) -> None:
        super().__init__()
        self.attention = _Attention(hidden, heads, eps)
        self.intermediate = _Intermediate(hidden, ffn)
        self.output = _Residual(ffn, hidden, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        attended = self.attention(x, mask)
        return self.output(self.intermediate(attended), attended)


class _Layers(nn.Module):
    def __init__(self, layers: list[_Layer]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(layers)


class BertEncoder(nn.Module):
    """BERT's embeddings and `layers` encoder layers over a given word table."""

    def __init__(
        self,
        words: nn.Module,
        hidden: int,
        layers: int,
        heads: int,
        ffn: int,
        positions: int,
        types: int,
        eps: float,
    ) -> None:
        super().__init__()
        self.embeddings = _Embeddings(words, hidden, positions, types, eps)
        self.encoder = _Layers([_Layer(hidden, heads, ffn, eps) for _ in range(layers)])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The last layer's token vectors, (batch, length, hidden); padding (mask 0) is not
        attended to."""
        mask = attention_mask.bool()[:, None, None, :]
        x = self.embeddings(input_ids)
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x
