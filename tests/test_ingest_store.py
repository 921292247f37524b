"""Ingest into a real embedded Chroma store: idempotency, updates, removal, bad input."""

import json

import pytest

from berita.components import open_answerer, open_store
from ingest.pipeline import ingest
from tests.conftest import SEED
from vectorstore.store import StoreError


def _write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", "utf-8")
    return str(path)


def test_seed_ingest_is_idempotent(settings):
    store = open_store(settings)
    first = ingest([str(SEED)], store, settings)
    assert (first.added, first.failed) == (1, 0)
    passages, revision = store.count(), store.revision()
    assert passages >= 3

    again = ingest([str(SEED)], open_store(settings), settings)
    assert (again.added, again.updated, again.unchanged, again.passages) == (0, 0, 1, 0)
    reopened = open_store(settings)
    assert reopened.count() == passages and reopened.revision() == revision
    stored = reopened.iter_passages()
    texts = [text for page in stored for text in page["documents"]]
    assert all("http" not in text and "slot" not in text for text in texts)
    assert any("Secara de facto Rusia menjadi pemimpin" in text for text in texts)


def test_changed_article_replaces_its_passages(settings, tmp_path):
    store = open_store(settings)
    long_text = " ".join(
        f"Kalimat ke-{i} tentang banjir di kota Bandung hari ini." for i in range(60)
    )
    source = _write_jsonl(
        tmp_path / "a.jsonl", [{"id": "art-1", "title": "Banjir", "text": long_text}]
    )
    ingest([source], store, settings)
    many = store.count()
    assert many > 2

    source = _write_jsonl(
        tmp_path / "a.jsonl", [{"id": "art-1", "title": "Banjir", "text": "Banjir sudah surut."}]
    )
    summary = ingest([source], store, settings)
    assert (summary.updated, summary.added) == (1, 0)
    assert store.count() == 1
    [only] = [t for page in store.iter_passages() for t in page["documents"]]
    assert only == "Banjir\nBanjir sudah surut."
    assert [s.doc_id for s in store.sources()] == ["art-1"]


def test_remove_deletes_an_article_and_updates_the_lexical_index(settings, tmp_path):
    store = open_store(settings)
    source = _write_jsonl(
        tmp_path / "two.jsonl",
        [
            {"id": "beras", "text": "Harga beras naik menjadi Rp14.500 per kilogram di pasar."},
            {"id": "banjir", "text": "Banjir merendam ratusan rumah di Kampung Melayu."},
        ],
    )
    ingest([source], store, settings)
    assert {s.doc_id for s in store.sources()} == {"beras", "banjir"}
    assert store.remove(["beras", "nothing-here"]) == {"beras": 1, "nothing-here": 0}
    store.commit()

    reader = open_store(settings)
    assert [s.doc_id for s in reader.sources()] == ["banjir"]
    assert reader.lexical().ids == ["banjir#0"]
    answer = open_answerer(settings, reader).ask("Berapa harga beras?")
    assert all(p.document.metadata["doc_id"] == "banjir" for p in answer.passages)


def test_bad_items_fail_alone_and_the_rest_is_ingested(settings, tmp_path):
    (tmp_path / "empty.txt").write_text("", "utf-8")
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02binary\xff" * 10)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    big = tmp_path / "big.txt"
    big.write_text("kata " * 300, "utf-8")
    good = tmp_path / "good.md"
    good.write_text("# Gempa di Cianjur\n\nGempa magnitudo 5,6 mengguncang Cianjur.", "utf-8")
    lines = _write_jsonl(tmp_path / "mixed.jsonl", [{"id": "ok-1", "text": "Pasar ramai."}])
    with open(lines, "a", encoding="utf-8") as handle:
        handle.write('{"id": "broken", "text": \n{"id": "no-text"}\n[1, 2]\n')
    small = settings.model_copy(update={"max_source_bytes": 1000})

    summary = ingest(
        [
            str(p)
            for p in (
                tmp_path / "empty.txt",
                tmp_path / "blob.txt",
                tmp_path / "notes.pdf",
                big,
                good,
                tmp_path / "missing.txt",
            )
        ]
        + [lines],
        open_store(small),
        small,
    )
    reasons = {f.origin.rsplit("/", 1)[-1]: f.reason for f in summary.failures}
    assert reasons == {
        "empty.txt": "empty file",
        "blob.txt": "binary content, not text",
        "notes.pdf": "unsupported file type .pdf",
        "big.txt": "file too large (1,500 bytes; MAX_SOURCE_BYTES is 1,000)",
        "missing.txt": "no such file, folder or URL",
        "mixed.jsonl:2": "malformed JSON (Expecting value)",
        "mixed.jsonl:3": 'missing or empty "text"',
        "mixed.jsonl:4": "expected a JSON object",
    }
    assert summary.added == 2
    titles = {s.title for s in open_store(small).sources()}
    assert titles == {"Gempa di Cianjur", ""}


def test_folder_ingest_reads_supported_files_recursively(settings, tmp_path):
    (tmp_path / "news" / "deep").mkdir(parents=True)
    (tmp_path / "news" / "a.txt").write_text("Judul A\nIsi berita A tentang pemilu.", "utf-8")
    (tmp_path / "news" / "deep" / "b.md").write_text("# Judul B\nIsi berita B.", "utf-8")
    (tmp_path / "news" / "deep" / "skip.csv").write_text("x,y", "utf-8")
    summary = ingest([str(tmp_path / "news")], open_store(settings), settings)
    assert (summary.added, summary.failed) == (2, 0)
    assert {s.title for s in open_store(settings).sources()} == {"Judul A", "Judul B"}


def test_opening_a_store_with_another_model_says_how_to_reindex(settings):
    ingest([str(SEED)], open_store(settings), settings)
    other = settings.model_copy(update={"embedding_model": "some/other-model"})
    from vectorstore.store import PassageStore

    with pytest.raises(StoreError, match="berita reindex"):
        PassageStore(other, embeddings=None)


@pytest.mark.parametrize("newest", ["beras-naik", "beras-turun"])
def test_a_question_for_the_latest_news_prefers_the_newest_article(settings, tmp_path, newest):
    texts = {
        "beras-naik": "Harga beras di Jakarta naik menjadi Rp 12.000 per kilogram.",
        "beras-turun": "Harga beras di Jakarta turun menjadi Rp 11.000 per kilogram.",
        "gempa": "Gempa bermagnitudo 5,6 mengguncang Cianjur dan merusak ratusan rumah.",
        "bola": "Tim nasional menang 2-0 atas Vietnam di Stadion Gelora Bung Karno.",
    }
    dates = dict.fromkeys(texts, "10/1/2023") | {newest: "10 Juni 2023"}
    records = [{"id": d, "text": t, "published": dates[d]} for d, t in texts.items()]
    store = open_store(settings)
    ingest([_write_jsonl(tmp_path / "news.jsonl", records)], store, settings)
    assert store.sources()[0].published == "2023-06-10"  # read into ISO form
    answerer = open_answerer(settings, store)
    for question in ("Berapa harga beras terbaru di Jakarta?", "Latest rice price in Jakarta?"):
        answer = answerer.ask(question)
        assert answer.passages[0].document.metadata["doc_id"] == newest
        assert answer.citations[0] == newest
