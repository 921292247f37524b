"""Ingest real HTML pages and an RSS feed served on 127.0.0.1."""

import socket
import time

from berita.answer.components import open_answerer, open_store
from berita.ingest.config import IngestConfig
from berita.ingest.pipeline import ingest
from tests.site import OLD_CAFE


def test_pages_and_feed_are_extracted_cleaned_and_deduplicated(settings, site):
    store = open_store(settings)
    summary = ingest([site.url("/feed.xml")], store, IngestConfig.from_settings(settings))
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
    again = ingest(
        [site.url("/berita/banjir-jakarta?utm_source=wa")],
        store,
        IngestConfig.from_settings(settings),
    )
    assert (again.added, again.unchanged) == (0, 1)


def test_answers_cite_only_the_article_source_url(settings, site):
    ingest([site.url("/feed.xml")], open_store(settings), IngestConfig.from_settings(settings))
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
        IngestConfig.from_settings(settings),
    )
    reasons = [f.reason for f in summary.failures]
    assert reasons[0] == "binary content, not text"
    assert reasons[1] == "HTTP 404 Not Found"
    assert reasons[2].startswith("cannot fetch (ConnectError")
    assert all("\n" not in r for r in reasons) and summary.added == 0


def test_pages_in_other_charsets_are_read_as_declared(settings, site, tmp_path):
    saved = tmp_path / "kafe.html"  # a page saved as windows-1252, said in its <meta>
    saved.write_bytes(
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        b"<title>Caf\xe9 di Braga</title></head><body><article><h1>Caf\xe9 di Braga</h1>"
        + "".join(f"<p>{p}</p>" for p in OLD_CAFE).encode("cp1252")
        + b"<p>Pemilik menyebutnya \x93rumah kedua\x94 bagi seniman kota.</p>"
        + b"</article></body></html>"
    )
    wrong = tmp_path / "salah.html"  # bytes windows-1252 has no character for
    wrong.write_bytes(b'<meta charset="windows-1252"><p>Harga \x81\x8d naik.</p>')
    sources = [site.url("/lama/kafe"), str(saved), str(wrong)]
    summary = ingest(sources, open_store(settings), IngestConfig.from_settings(settings))
    assert summary.added == 2
    assert [(f.origin, f.reason) for f in summary.failures] == [
        (str(wrong), "binary content or not windows-1252 text, as declared")
    ]
    pages = open_store(settings).iter_passages(include=("documents",))
    texts = " ".join(text for page in pages for text in page["documents"])
    assert "crème brûlée" in texts and "Café tertua di Jalan Braga" in texts
    assert "“rumah kedua”" in texts


def test_private_addresses_are_refused_by_default_and_metadata_always(settings, site):
    public_only = settings.model_copy(update={"allow_private_urls": False})
    summary = ingest(
        [site.url("/berita/harga-beras")],
        open_store(public_only),
        IngestConfig.from_settings(public_only),
    )
    assert summary.failures[0].reason == (
        "refused: 127.0.0.1 resolves to a non-public address (127.0.0.1); "
        "set ALLOW_PRIVATE_URLS=true to allow"
    )
    # Allowed private addresses still never reach a cloud metadata service: not by a redirect,
    # not by a feed entry.
    summary = ingest(
        [site.url("/go/metadata"), site.url("/metadata-feed.xml")],
        open_store(settings),
        IngestConfig.from_settings(settings),
    )
    assert [f.reason for f in summary.failures] == [
        "refused: 169.254.169.254 is a cloud metadata address"
    ] * 2
    assert summary.added == 0


def test_a_host_is_fetched_from_the_address_checked_not_a_second_answer(
    settings, site, monkeypatch
):
    """DNS rebinding: a name that answers a checked address first and another one next must
    not be fetched from the second; the connection goes to the address that was checked."""
    real_getaddrinfo = socket.getaddrinfo
    asked = []

    def rebinding(host, port, *args, **kwargs):
        if host != "kabar.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "127.0.0.2"  # nothing listens there
        return real_getaddrinfo(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://kabar.test:{site.server.server_address[1]}/berita/harga-beras"
    summary = ingest([url], open_store(settings), IngestConfig.from_settings(settings))
    assert (summary.added, summary.failures) == (1, [])
    assert asked == ["kabar.test"]  # resolved once, by the check
    assert site.hosts == [f"kabar.test:{site.server.server_address[1]}"]  # named as asked
    assert [source.url for source in open_store(settings).sources()] == [url]


def test_a_slow_drip_server_is_cut_off_at_the_fetch_deadline(settings, site):
    quick = settings.model_copy(update={"fetch_timeout_s": 2.0})
    started = time.monotonic()
    summary = ingest([site.url("/drip")], open_store(quick), IngestConfig.from_settings(quick))
    assert time.monotonic() - started < 6
    assert summary.failures[0].reason == "timed out (FETCH_TIMEOUT_S is 2)"


def test_login_walls_and_stubs_are_not_stored(settings, site):
    summary = ingest(
        [site.url("/login")], open_store(settings), IngestConfig.from_settings(settings)
    )
    assert summary.added == 0
    assert summary.failures[0].reason.startswith("too little article text (")
    assert "login wall" in summary.failures[0].reason


def test_a_page_cannot_claim_another_sites_identity(settings, site):
    ingest([site.url("/hostile")], open_store(settings), IngestConfig.from_settings(settings))
    [stored] = open_store(settings).sources()
    assert stored.url == site.url("/hostile")  # its own address, not news.example's
    answer = open_answerer(settings).ask("Berapa harga beras?")
    assert all("news.example" not in p.document.metadata["url"] for p in answer.passages)
