import itertools

from berita.ingest.article import Article
from berita.ingest.chunk import chunk_article
from berita.vectorstore.passages import (
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
    passages = chunk_article(_article(40), max_words=60)
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
        }


def test_content_hash_changes_with_the_text_and_with_chunk_max_words():
    hashes = {
        chunk_article(_article(40), max_words=60)[0].metadata["content_hash"],
        chunk_article(_article(41), max_words=60)[0].metadata["content_hash"],
        chunk_article(_article(40), max_words=80)[0].metadata["content_hash"],
    }
    assert len(hashes) == 3
    again = chunk_article(_article(40), max_words=60)[0].metadata["content_hash"]
    assert again in hashes


def test_consecutive_passages_share_one_sentence_and_lose_none():
    passages = chunk_article(_article(40), max_words=60)
    bodies = [passage_body(doc) for doc in passages]
    for before, after in itertools.pairwise(bodies):
        assert before.rsplit(". ", 1)[-1].rstrip(".") in after
    for i in range(40):
        assert any(f"nomor {i} " in body for body in bodies)


def test_a_short_article_is_one_passage_and_spans_pair_sentences():
    [doc] = chunk_article(_article(3), max_words=150)
    sentences = passage_sentences(doc)
    assert len(sentences) == 3
    spans = answer_spans(len(sentences))
    assert spans == [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2)]
    assert span_text(sentences, 0, 1) == f"{sentences[0]} {sentences[1]}"
    assert quotable_spans(doc) == (
        sentences,
        [(first, last, span_text(sentences, first, last)) for first, last in spans],
    )
