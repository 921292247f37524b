import itertools

from berita.ingest.article import Article
from berita.ingest.chunk import chunk_article
from berita.vectorstore.passages import (
    MAX_SPANS,
    answer_spans,
    passage_body,
    passage_sentences,
    quotable_spans,
    span_text,
)


def _article(sentences: int) -> Article:
    text = " ".join(
        f"Kalimat nomor {i} membahas topik berita yang cukup panjang." for i in range(sentences)
    )
    return Article(
        "doc-1", text, "Judul Berita", url="https://news.example/1", published="2024-01-02"
    )


def test_passages_respect_the_word_limit_and_carry_the_title():
    passages = chunk_article(_article(40), max_words=60, max_chars=1500)
    assert len(passages) > 5
    for index, doc in enumerate(passages):
        assert doc.page_content.startswith("Judul Berita\n")
        assert len(passage_body(doc).split()) <= 60
        assert doc.metadata == {
            "doc_id": "doc-1",
            "chunk": index,
            "title": "Judul Berita",
            "url": "https://news.example/1",
            "published": "2024-01-02",
            "source": "",
            "content_hash": passages[0].metadata["content_hash"],
            "text_hash": passages[0].metadata["text_hash"],
        }


def test_content_hash_changes_with_the_text_and_with_the_passage_size():
    hashes = {
        chunk_article(_article(40), max_words=60, max_chars=1500)[0].metadata["content_hash"],
        chunk_article(_article(41), max_words=60, max_chars=1500)[0].metadata["content_hash"],
        chunk_article(_article(40), max_words=80, max_chars=1500)[0].metadata["content_hash"],
        chunk_article(_article(40), max_words=60, max_chars=1000)[0].metadata["content_hash"],
    }
    assert len(hashes) == 4
    again = chunk_article(_article(40), max_words=60, max_chars=1500)[0].metadata["content_hash"]
    assert again in hashes


def test_consecutive_passages_share_one_sentence_and_lose_none():
    passages = chunk_article(_article(40), max_words=60, max_chars=1500)
    bodies = [passage_body(doc) for doc in passages]
    for before, after in itertools.pairwise(bodies):
        assert before.rsplit(". ", 1)[-1].rstrip(".") in after
    for i in range(40):
        assert any(f"nomor {i} " in body for body in bodies)


def test_a_short_article_is_one_passage_and_spans_pair_sentences():
    [doc] = chunk_article(_article(3), max_words=150, max_chars=1500)
    sentences = passage_sentences(doc)
    assert len(sentences) == 3
    spans = answer_spans(len(sentences))
    assert spans == [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2)]
    assert span_text(sentences, 0, 1) == f"{sentences[0]} {sentences[1]}"
    assert quotable_spans(doc) == (
        sentences,
        [(first, last, span_text(sentences, first, last)) for first, last in spans],
    )


def test_passages_respect_the_character_limit_whatever_the_words():
    text = "Harga naik. " + "kata" * 900 + " Harga turun. " + " ".join(["panjangsekali"] * 300)
    passages = chunk_article(Article("d", text, "Judul"), max_words=150, max_chars=400)
    assert all(len(passage_body(doc)) <= 400 for doc in passages)
    assert all(len(passage_body(doc).split()) <= 150 for doc in passages)
    joined = "".join(passage_body(doc).replace(" ", "") for doc in passages)
    assert joined.count("kata") >= 900 and "Hargaturun." in joined


def test_the_text_hash_is_the_normalised_text_whatever_the_title_or_id():
    first = Article("a", "Harga cabai naik.\nPedagang mengeluh.", "Judul satu")
    second = Article("b", "harga cabai  naik pedagang mengeluh", "Judul dua", url="https://x.id/b")
    third = Article("c", "Harga cabai turun.", "Judul satu")
    hashes = [
        chunk_article(article, max_words=150, max_chars=1500)[0].metadata["text_hash"]
        for article in (first, second, third)
    ]
    assert hashes[0] == hashes[1] != hashes[2]


def test_a_passage_quotes_at_most_max_spans():
    text = " ".join(f"Kalimat {i}." for i in range(100))
    [doc] = chunk_article(Article("d", text), max_words=400, max_chars=4000)
    sentences, spans = quotable_spans(doc)
    assert len(sentences) == 100
    assert len(spans) == MAX_SPANS and spans[0][:2] == (0, 0)
