"""Ingest into a real embedded Chroma store: idempotency, updates, removal, bad input."""

import json

import pytest

from berita.answer.components import open_answerer, open_store
from berita.ingest.config import IngestConfig
from berita.ingest.pipeline import ingest
from berita.vectorstore.config import StoreConfig
from berita.vectorstore.lexical import LexicalIndex
from berita.vectorstore.lexical_sync import LexicalSync
from berita.vectorstore.store import PassageStore, StoreError
from tests.conftest import SEED


def _write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", "utf-8")
    return str(path)


def test_seed_ingest_is_idempotent(settings):
    store = open_store(settings)
    first = ingest([str(SEED)], store, IngestConfig.from_settings(settings))
    assert (first.added, first.failed) == (1, 0)
    passages, revision = store.count(), store.revision()
    assert passages >= 3

    again = ingest([str(SEED)], open_store(settings), IngestConfig.from_settings(settings))
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
    ingest([source], store, IngestConfig.from_settings(settings))
    many = store.count()
    assert many > 2

    source = _write_jsonl(
        tmp_path / "a.jsonl", [{"id": "art-1", "title": "Banjir", "text": "Banjir sudah surut."}]
    )
    summary = ingest([source], store, IngestConfig.from_settings(settings))
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
    ingest([source], store, IngestConfig.from_settings(settings))
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
        IngestConfig.from_settings(small),
    )
    reasons = {f.origin.rsplit("/", 1)[-1]: f.reason for f in summary.failures}
    assert reasons == {
        "empty.txt": "empty file",
        "blob.txt": "binary content, not text",
        "notes.pdf": "unsupported file type .pdf",
        "big.txt": "file too large (1,500 bytes; MAX_SOURCE_BYTES is 1,000)",
        "missing.txt": "no such file, folder or URL",
        "mixed.jsonl:2": reasons["mixed.jsonl:2"],
        "mixed.jsonl:3": 'missing or empty "text"',
        "mixed.jsonl:4": "expected a JSON object",
    }
    assert reasons["mixed.jsonl:2"].startswith("malformed JSON (")
    assert summary.added == 2
    titles = {s.title for s in open_store(small).sources()}
    assert titles == {"Gempa di Cianjur", ""}


def test_folder_ingest_reads_supported_files_recursively(settings, tmp_path):
    (tmp_path / "news" / "deep").mkdir(parents=True)
    (tmp_path / "news" / "a.txt").write_text("Judul A\nIsi berita A tentang pemilu.", "utf-8")
    (tmp_path / "news" / "deep" / "b.md").write_text("# Judul B\nIsi berita B.", "utf-8")
    (tmp_path / "news" / "deep" / "skip.csv").write_text("x,y", "utf-8")
    summary = ingest(
        [str(tmp_path / "news")], open_store(settings), IngestConfig.from_settings(settings)
    )
    assert (summary.added, summary.failed) == (2, 0)
    assert {s.title for s in open_store(settings).sources()} == {"Judul A", "Judul B"}


def test_opening_a_store_with_another_model_says_how_to_reindex(settings):
    ingest([str(SEED)], open_store(settings), IngestConfig.from_settings(settings))
    other = settings.model_copy(update={"embedding_model": "some/other-model"})

    with pytest.raises(StoreError, match="berita reindex"):
        PassageStore(StoreConfig.from_settings(other), embeddings=None)


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
    ingest(
        [_write_jsonl(tmp_path / "news.jsonl", records)],
        store,
        IngestConfig.from_settings(settings),
    )
    assert store.sources()[0].published == "2023-06-10"  # read into ISO form
    answerer = open_answerer(settings, store)
    for question in ("Berapa harga beras terbaru di Jakarta?", "Latest rice price in Jakarta?"):
        answer = answerer.ask(question)
        assert answer.passages[0].document.metadata["doc_id"] == newest
        assert answer.citations[0] == newest


def _texts(store):
    return {
        pid: text
        for page in store.iter_passages()
        for pid, text in zip(page["ids"], page["documents"], strict=True)
    }


def test_an_article_half_replaced_by_a_crash_is_rewritten(settings, tmp_path):
    long_text = " ".join(f"Kalimat ke-{i} tentang banjir di kota Bandung." for i in range(60))
    store = open_store(settings)
    ingest(
        [_write_jsonl(tmp_path / "v1.jsonl", [{"id": "art", "text": long_text}])],
        store,
        IngestConfig.from_settings(settings),
    )
    assert store.count() > 2
    # What a kill -9 between writing the new version and deleting the old passages leaves:
    newer = _write_jsonl(tmp_path / "v2.jsonl", [{"id": "art", "text": "Banjir sudah surut."}])
    from berita.ingest.chunk import chunk_article
    from berita.ingest.clean import clean_article
    from berita.ingest.sources import iter_articles

    [article] = list(iter_articles([newer], IngestConfig.from_settings(settings)))
    [passage] = chunk_article(
        clean_article(article), settings.chunk_max_words, settings.chunk_max_chars
    )
    store.collection.upsert(
        ids=["art#0"],
        documents=[passage.page_content],
        metadatas=[passage.metadata],
        embeddings=store.embeddings.embed_documents([passage.page_content]),
    )
    summary = ingest([newer], store, IngestConfig.from_settings(settings))
    assert (summary.updated, summary.unchanged) == (1, 0)
    assert list(_texts(store).values()) == ["Banjir sudah surut."]


def test_a_new_chunk_size_rewrites_the_same_article(settings, tmp_path):
    long_text = " ".join(f"Kalimat ke-{i} tentang banjir di kota Bandung." for i in range(60))
    source = _write_jsonl(tmp_path / "a.jsonl", [{"id": "art", "text": long_text}])
    ingest([source], open_store(settings), IngestConfig.from_settings(settings))
    smaller = settings.model_copy(update={"chunk_max_words": 40})
    summary = ingest([source], open_store(smaller), IngestConfig.from_settings(smaller))
    assert (summary.updated, summary.unchanged) == (1, 0)
    assert all(len(text.split()) <= 40 for text in _texts(open_store(smaller)).values())


def test_jsonl_bad_lines_fail_alone_with_their_numbers(settings, tmp_path):
    path = tmp_path / "dump.jsonl"
    lines = [
        json.dumps({"id": "a", "text": "Harga cabai naik di pasar Bandung."}).encode(),
        json.dumps({"id": "b", "text": "Kereta cepat mulai beroperasi."}).encode(),
        b'{"id": "c", "text": "Caf\xe9 baru dibuka di Medan."}',  # Latin-1, not UTF-8
        json.dumps({"id": "a", "text": "Versi kedua yang sama idnya."}).encode(),
        json.dumps({"id": "d", "text": "Gempa kecil terasa di Garut."}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    summary = ingest([str(path)], open_store(settings), IngestConfig.from_settings(settings))
    assert summary.added == 3
    assert [(f.origin, f.reason) for f in summary.failures] == [
        (f"{path}:3", "not UTF-8 text"),
        (f"{path}:4", "duplicate id 'a' (first on line 1); skipped"),
    ]
    texts = _texts(open_store(settings))
    assert texts["a#0"] == "Harga cabai naik di pasar Bandung."


def test_files_are_read_in_the_encoding_their_byte_order_mark_names(settings, tmp_path):
    # Notepad's "Unicode" is UTF-16 LE with a mark; the mark wins over an HTML <meta> charset
    body = "Jembatan baru di Samarinda diresmikan Senin; warga menyambut gembira. " * 6
    (tmp_path / "notepad.txt").write_bytes(("Jembatan Mahakam\n" + body).encode("utf-16"))
    (tmp_path / "dump.jsonl").write_bytes(
        (json.dumps({"id": "u16", "title": "Kereta", "text": "Kereta cepat jalan."}) + "\n").encode(
            "utf-16"
        )
    )
    (tmp_path / "wide.md").write_bytes(("# Pasar Baru\nHarga cabai naik.").encode("utf-32"))
    page = f"<html><head><meta charset='iso-8859-1'><title>Banjir</title></head><body>\
<article><h1>Banjir</h1><p>{body} Kafe “Kopi Kita” tutup.</p></article></body></html>"
    (tmp_path / "page.html").write_bytes(b"\xfe\xff" + page.encode("utf-16-be"))
    (tmp_path / "broken.txt").write_bytes(b"\xff\xfe" + "Banjir".encode("utf-16-le")[:-1])
    summary = ingest([str(tmp_path)], open_store(settings), IngestConfig.from_settings(settings))
    assert [(f.origin, f.reason) for f in summary.failures] == [
        (
            str(tmp_path / "broken.txt"),
            "binary content or not UTF-16 text, as its byte-order mark says",
        )
    ]
    assert summary.added == 4
    titles = {s.title for s in open_store(settings).sources()}
    assert titles == {"Jembatan Mahakam", "Kereta", "Pasar Baru", "Banjir"}
    texts = " ".join(_texts(open_store(settings)).values())
    assert "Kafe “Kopi Kita” tutup" in texts and "Harga cabai naik." in texts
    assert "\x00" not in texts and "\ufeff" not in texts


def test_files_that_do_not_name_their_encoding_are_read_in_the_one_given(settings, tmp_path):
    body = "Kafe “Kopi Kita” di Medan dibuka lagi; harga kopi naik 10%. " * 6
    (tmp_path / "old.txt").write_bytes(("Kafe Kopi Kita\n" + body + "Ramai.").encode("cp1252"))
    (tmp_path / "old.jsonl").write_bytes(
        json.dumps(
            {"id": "j", "title": "Cabai", "text": "Harga cabai naik · kata Pak Ré."},
            ensure_ascii=False,
        ).encode("cp1252")
    )
    page = f"<html><head><meta charset='utf-8'><title>Banjir</title></head><body>\
<article><h1>Banjir</h1><p>{body} Warga “mengungsi”.</p></article></body></html>"
    (tmp_path / "page.html").write_bytes(page.encode("utf-8"))  # its <meta> still says how
    (tmp_path / "marked.md").write_bytes(("# Jembatan\n" + body).encode("utf-16"))  # and a BOM
    store = open_store(settings)
    as_utf8 = ingest([str(tmp_path)], store, IngestConfig.from_settings(settings))
    assert [(f.origin, f.reason) for f in as_utf8.failures] == [
        (f"{tmp_path / 'old.jsonl'}:1", "not UTF-8 text"),
        (str(tmp_path / "old.txt"), "binary content or not UTF-8 text"),
    ]
    given = ingest([str(tmp_path)], store, IngestConfig.from_settings(settings), encoding="cp1252")
    assert (given.added, given.unchanged, given.failures) == (2, 2, [])
    texts = " ".join(_texts(open_store(settings)).values())
    assert "Kafe “Kopi Kita” di Medan" in texts and "kata Pak Ré" in texts
    assert "Warga “mengungsi”" in texts
    titles = {s.title for s in open_store(settings).sources()}
    assert titles == {"Kafe Kopi Kita", "Cabai", "Banjir", "Jembatan"}

    wide = tmp_path / "wide"  # UTF-16 without its mark: zero bytes, yet text when said so
    wide.mkdir()
    (wide / "a.txt").write_bytes(("Pasar Baru\n" + body + "Sepi.").encode("utf-16-le"))
    refused = ingest([str(wide)], store, IngestConfig.from_settings(settings))
    assert [f.reason for f in refused.failures] == ["binary content, not text"]
    assert (
        ingest([str(wide)], store, IngestConfig.from_settings(settings), encoding="utf-16-le").added
        == 1
    )
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "b.txt").write_bytes(bytes(range(256)) * 4)
    summary = ingest([str(binary)], store, IngestConfig.from_settings(settings), encoding="cp1252")
    assert [f.reason for f in summary.failures] == ["binary content, not text"]


def test_gzipped_dumps_are_read_and_bombs_refused(settings, tmp_path):
    import gzip

    records = [{"id": f"g{i}", "text": f"Berita ke-{i} tentang pasar di Medan."} for i in range(3)]
    dump = "\n".join(json.dumps(r) for r in records) + "\n"
    (tmp_path / "dumps").mkdir()
    (tmp_path / "dumps" / "day.jsonl.gz").write_bytes(gzip.compress(dump.encode()))
    (tmp_path / "dumps" / "notes.txt.gz").write_bytes(gzip.compress(b"Bukan dump."))
    (tmp_path / "broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08 not gzip at all")
    # 2 KB packed, 2 MB unpacked: refused as it unpacks, past MAX_SOURCE_BYTES
    (tmp_path / "bomb.jsonl.gz").write_bytes(gzip.compress(b" " * 2_000_000))
    small = settings.model_copy(update={"max_source_bytes": 100_000})
    sources = [str(tmp_path / name) for name in ("dumps", "broken.jsonl.gz", "bomb.jsonl.gz")]
    summary = ingest(sources, open_store(small), IngestConfig.from_settings(small))
    assert [(f.origin, f.reason) for f in summary.failures] == [
        (sources[1], "not a readable gzip file"),
        (sources[2], "file too large unpacked (MAX_SOURCE_BYTES is 100,000)"),
    ]
    assert summary.added == 3  # the folder's dump; a gzipped .txt is not a dump
    assert set(_texts(open_store(small))) == {"g0#0", "g1#0", "g2#0"}


def test_jsonl_escapes_of_half_a_character_are_dropped(settings, tmp_path):
    # "\ud83d" alone is half an emoji: json.loads gives a str no UTF-8 encoder takes
    path = tmp_path / "dump.jsonl"
    path.write_text(
        '{"id": "h\\udcff", "title": "Banjir \\ud83d di Bandung", '
        '"text": "Banjir merendam \\ude00 rumah warga di Bandung."}\n',
        "utf-8",
    )
    summary = ingest([str(path)], open_store(settings), IngestConfig.from_settings(settings))
    assert (summary.added, summary.failures) == (1, [])
    [(pid, text)] = _texts(open_store(settings)).items()
    assert pid == "h#0" and "Banjir di Bandung" in text
    assert "Banjir merendam rumah warga di Bandung." in text


def test_an_article_from_one_site_is_never_replaced_by_another_site(settings, tmp_path):
    first = {"id": "x", "url": "https://news.example/a", "text": "Berita asli tentang pemilu."}
    fake = {"id": "x", "url": "https://evil.example/a", "text": "Berita palsu tentang pemilu."}
    ingest(
        [_write_jsonl(tmp_path / "a.jsonl", [first])],
        open_store(settings),
        IngestConfig.from_settings(settings),
    )
    summary = ingest(
        [_write_jsonl(tmp_path / "b.jsonl", [fake])],
        open_store(settings),
        IngestConfig.from_settings(settings),
    )
    assert summary.failures[0].reason == (
        "would replace article 'x' from news.example with a page from evil.example"
    )
    assert list(_texts(open_store(settings)).values()) == ["Berita asli tentang pemilu."]


def test_a_broken_saved_lexical_index_is_rebuilt(settings, tmp_path):
    store = open_store(settings)
    ingest([str(SEED)], store, IngestConfig.from_settings(settings))
    saved = [path for path in (settings.chroma_path / "lexical").rglob("*") if path.is_file()]
    assert len(saved) >= 3  # the revision's list of segments, a segment's ids and its counts
    for path in saved:
        path.write_bytes(b"\x80\x04garbage")
    reader = open_store(settings)
    assert len(reader.lexical().ids) == store.count()
    assert reader.lexical().search("Peskov", 5)


def _article(number: int) -> dict:
    return {
        "id": f"laporan-{number}",
        "title": f"Laporan nomor {number}",
        "text": f"Gudang kode{number} menyimpan {number * 7} ton beras untuk warga desa. "
        f"Petugas gudang nomor {number} mencatat stok setiap pekan.",
    }


def _assert_same_as_rebuilt(store):
    """The store's lexical index answers as one built from scratch from what Chroma holds."""
    pages = list(store.iter_passages(include=("documents",)))
    ids = [pid for page in pages for pid in page["ids"]]
    rebuilt = LexicalIndex.build(ids, [text for page in pages for text in page["documents"]])
    index = store.lexical()
    assert sorted(index.ids) == sorted(ids)
    for query in ["beras gudang", "kode3 stok", "warga desa pekan", "petugas nomor 5"]:
        got, want = dict(index.search(query, 100)), dict(rebuilt.search(query, 100))
        assert got.keys() == want.keys()
        assert all(got[pid] == pytest.approx(want[pid], rel=1e-5) for pid in want)


def test_readers_and_commits_apply_only_the_writes_since_the_last_commit(
    settings, tmp_path, monkeypatch
):
    store = open_store(settings)
    ingest(
        [_write_jsonl(tmp_path / "first.jsonl", [_article(n) for n in range(4)])],
        store,
        IngestConfig.from_settings(settings),
    )
    reader = open_store(settings)
    _assert_same_as_rebuilt(reader)

    # From here on nothing may rebuild the index from the whole collection.
    def whole_rebuild(self, collection):
        raise AssertionError("the index was rebuilt from the whole collection")

    monkeypatch.setattr(LexicalSync, "build", whole_rebuild)
    seen = []

    def check_reader(origin, outcome):  # called after each stored article, before a commit
        reader.refresh()
        assert reader.dirty()
        _assert_same_as_rebuilt(reader)
        seen.append(outcome)

    changed = [_article(n) for n in range(2, 9)]
    changed[0]["text"] += " Stok beras gudang ini habis."  # laporan-2 changes
    source = _write_jsonl(tmp_path / "more.jsonl", changed)
    summary = ingest([source], store, IngestConfig.from_settings(settings), on_item=check_reader)
    assert (summary.added, summary.updated, summary.unchanged) == (5, 1, 1)
    assert seen.count("added") == 5
    reader.refresh()
    assert not reader.dirty()
    _assert_same_as_rebuilt(reader)

    store.remove(["laporan-0", "laporan-5"])
    reader.refresh()
    _assert_same_as_rebuilt(reader)
    store.commit()
    _assert_same_as_rebuilt(open_store(settings))  # a new process loads what commit saved
    lexical = settings.chroma_path / "lexical"
    assert len(list(lexical.glob("*.bm25"))) == 1 and not list(lexical.glob("*.journal"))
