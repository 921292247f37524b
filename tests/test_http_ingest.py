"""Ingest real HTML pages and an RSS feed served on 127.0.0.1."""

from berita.components import open_answerer, open_store
from ingest.pipeline import ingest


def test_pages_and_feed_are_extracted_cleaned_and_deduplicated(settings, site):
    store = open_store(settings)
    summary = ingest([site.url("/feed.xml")], store, settings)
    assert (summary.added, summary.failed) == (2, 1)
    assert summary.failures[0].origin == site.url("/berita/hilang")
    assert summary.failures[0].reason == "HTTP 404 Not Found"

    sources = {s.url: s for s in open_store(settings).sources()}
    flood = sources[site.url("/berita/banjir-jakarta")]
    assert flood.title == "Banjir & longsor melanda Jakarta, air <1 meter"
    assert flood.published == "2024-02-10"
    texts = " ".join(t for page in store.iter_passages() for t in page["documents"])
    assert "1.250 warga di Kampung Melayu mengungsi" in texts
    for residue in ("http", "slot", "Ignore all previous", "Beranda", "Hak cipta", "Baca juga"):
        assert residue not in texts

    # The same article by its own URL (with tracking parameters) is the same article.
    again = ingest([site.url("/berita/banjir-jakarta?utm_source=wa")], store, settings)
    assert (again.added, again.unchanged) == (0, 1)


def test_answers_cite_only_the_article_source_url(settings, site):
    ingest([site.url("/feed.xml")], open_store(settings), settings)
    answer = open_answerer(settings).ask("Berapa warga yang mengungsi akibat banjir di Jakarta?")
    assert not answer.abstained
    assert "1.250" in answer.answer
    flood = next(s for s in open_store(settings).sources() if s.url.endswith("banjir-jakarta"))
    assert answer.citations[0] == flood.doc_id
    cited_urls = {p.document.metadata["url"] for p in answer.passages}
    assert cited_urls <= {site.url("/berita/banjir-jakarta"), site.url("/berita/harga-beras")}
    assert "http" not in answer.answer


def test_broken_urls_fail_with_one_line_each(settings, site):
    summary = ingest(
        [site.url("/image.png"), site.url("/nope"), "http://127.0.0.1:9/unreachable"],
        open_store(settings),
        settings,
    )
    reasons = [f.reason for f in summary.failures]
    assert reasons[0] == "binary content, not text"
    assert reasons[1] == "HTTP 404 Not Found"
    assert reasons[2].startswith("cannot fetch (ConnectError")
    assert all("\n" not in r for r in reasons) and summary.added == 0
