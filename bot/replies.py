"""What the bot says: texts in Indonesian and English, answers as escaped HTML, safe splitting."""

from __future__ import annotations

import re
from html import escape

from berita.answer.answerer import Answer
from berita.vectorstore.passages import passage_body

TELEGRAM_LIMIT = 4096

TEXTS = {
    "en": {
        "start": (
            "Hi! I answer questions about <b>{articles}</b> {noun}{span}, quoting them "
            "and citing my sources.\n\nJust ask, in English or Indonesian, e.g. <i>which "
            "countries left CSTO?</i>\nIn groups: <code>/ask question</code>, mention me, or "
            "reply to me. /help lists the commands."
        ),
        "articles": "news articles",
        "one_article": "news article",
        "span": " from {first} to {last}",
        "one_day": " of {first}",
        "help": (
            "<b>Commands</b>\n/ask <i>question</i> — ask about the articles\n/sources — the "
            "latest articles (<code>/sources 2</code> for the next page)\n/about — version, "
            "model and store\n/new — a new conversation\n/help — this list\n\n"
            "A follow-up (<i>when did that happen?</i>) continues the conversation for "
            "{minutes} min; in groups, reply to my answer.\n\nAdmins: /add <i>URL…</i> adds "
            "articles or feeds; /remove <i>DOC_ID</i> deletes one; /feeds shows the watched feeds "
            "(<code>/feeds add|remove URL</code>); /feedback the latest 👎 and the questions "
            "I could not answer."
        ),
        "sources_title": "<b>Articles</b> (page {page} of {pages})",
        "sources_more": "More: /sources {next}",
        "sources_none": "No articles yet — an admin can /add some.",
        "about": (
            "<b>berita</b> {version}\nEmbedding model: <code>{model}</code>\nAnswers: "
            "{answers}\nArticles: {articles}"
        ),
        "about_store": "Store (admins only): <code>{store}</code>",
        "text_only": "I read text only: ask your question in words.",
        "extractive": "quoted from the articles",
        "generated": "written by <code>{llm}</code> from the articles",
        "ask_usage": "Ask like this: <code>/ask which countries left CSTO?</code>",
        "new_thread": "New conversation: your next question starts afresh.",
        "context_button": "Context",
        "button_expired": "This button has expired: ask again.",
        "thanks": "Thanks for the feedback!",
        "feedback_off": "Feedback is not recorded (FEEDBACK=false).",
        "feedback": "<b>Latest 👎</b>\n{down}\n\n<b>Most-asked refused questions</b>\n{refused}",
        "feedback_none": "none yet",
        "not_allowed": "Sorry, this bot is private. Ask its owner for access.",
        "slow_down": "You are asking quickly — please wait {seconds} s and try again.",
        "too_long": "That question is too long ({length} characters; at most {limit}). "
        "Please shorten it.",
        "empty_store": "No articles yet — an admin can /add some.",
        "store_down": "The article store is unavailable right now. Please try again later.",
        "error": "Something went wrong while answering. Please try again.",
        "admins_only": "Only admins can do that.",
        "add_usage": "Usage: <code>/add URL [URL…]</code>",
        "remove_usage": "Usage: <code>/remove DOC_ID [DOC_ID…]</code>",
        "adding": "Adding {count} source(s)…",
        "removed": "Removed {doc_id} ({count} passages).",
        "not_found": "No article {doc_id}.",
        "feeds_usage": "Usage: <code>/feeds</code>, <code>/feeds add URL</code> or "
        "<code>/feeds remove URL</code>",
        "feeds_none": "No feeds are watched. Add one: <code>/feeds add URL</code>",
        "feed_added": "Added {url}: <code>berita watch</code> polls it every {minutes} min.",
        "feed_known": "{url} is watched already.",
        "feed_removed": "Removed {url}; its articles stay.",
        "feed_configured": "{url} is set in FEEDS or FEEDS_FILE: remove it there.",
        "feed_unknown": "{url} is not a watched feed.",
    },
    "id": {
        "start": (
            "Halo! Saya menjawab pertanyaan tentang <b>{articles}</b> {noun}{span}, "
            "dengan kutipan dan sumbernya.\n\nTanyakan saja, dalam bahasa Indonesia atau "
            "Inggris, misalnya <i>negara mana saja yang keluar dari CSTO?</i>\nDi grup: "
            "<code>/ask pertanyaan</code>, sebut saya, atau balas pesan saya. /help berisi "
            "daftar perintah."
        ),
        "articles": "artikel berita",
        "one_article": "artikel berita",
        "span": " dari {first} sampai {last}",
        "one_day": " tanggal {first}",
        "help": (
            "<b>Perintah</b>\n/ask <i>pertanyaan</i> — tanya tentang artikel\n/sources — "
            "artikel terbaru (<code>/sources 2</code> untuk halaman berikutnya)\n/about — "
            "versi, model, dan penyimpanan\n/new — percakapan baru\n/help — daftar ini\n\n"
            "Pertanyaan lanjutan (<i>kapan itu terjadi?</i>) melanjutkan percakapan selama "
            "{minutes} menit; di grup, balas jawaban saya.\n\nAdmin: /add <i>URL…</i> "
            "menambah artikel atau feed; /remove <i>DOC_ID</i> menghapusnya; /feeds "
            "menampilkan feed yang dipantau (<code>/feeds add|remove URL</code>); /feedback "
            "👎 terbaru dan pertanyaan yang tak bisa saya jawab."
        ),
        "sources_title": "<b>Artikel</b> (halaman {page} dari {pages})",
        "sources_more": "Berikutnya: /sources {next}",
        "sources_none": "Belum ada artikel — admin bisa menambahkannya dengan /add.",
        "about": (
            "<b>berita</b> {version}\nModel embedding: <code>{model}</code>\nJawaban: "
            "{answers}\nArtikel: {articles}"
        ),
        "about_store": "Penyimpanan (khusus admin): <code>{store}</code>",
        "text_only": "Saya hanya membaca teks: tuliskan pertanyaan Anda.",
        "extractive": "kutipan dari artikel",
        "generated": "ditulis oleh <code>{llm}</code> dari artikel",
        "ask_usage": "Tanyakan seperti ini: <code>/ask negara mana yang keluar dari CSTO?</code>",
        "new_thread": "Percakapan baru: pertanyaan berikutnya dimulai dari awal.",
        "context_button": "Konteks",
        "button_expired": "Tombol ini sudah kedaluwarsa: tanyakan lagi.",
        "thanks": "Terima kasih atas masukannya!",
        "feedback_off": "Masukan tidak dicatat (FEEDBACK=false).",
        "feedback": (
            "<b>👎 terbaru</b>\n{down}\n\n<b>Pertanyaan tak terjawab terbanyak</b>\n{refused}"
        ),
        "feedback_none": "belum ada",
        "not_allowed": "Maaf, bot ini privat. Minta akses kepada pemiliknya.",
        "slow_down": "Anda bertanya terlalu cepat — tunggu {seconds} detik lalu coba lagi.",
        "too_long": "Pertanyaan terlalu panjang ({length} karakter; maksimal {limit}). "
        "Mohon dipersingkat.",
        "empty_store": "Belum ada artikel — admin bisa menambahkannya dengan /add.",
        "store_down": "Penyimpanan artikel sedang tidak tersedia. Silakan coba lagi nanti.",
        "error": "Terjadi kesalahan saat menjawab. Silakan coba lagi.",
        "admins_only": "Hanya admin yang bisa melakukannya.",
        "add_usage": "Cara pakai: <code>/add URL [URL…]</code>",
        "remove_usage": "Cara pakai: <code>/remove DOC_ID [DOC_ID…]</code>",
        "adding": "Menambahkan {count} sumber…",
        "removed": "{doc_id} dihapus ({count} bagian).",
        "not_found": "Tidak ada artikel {doc_id}.",
        "feeds_usage": "Cara pakai: <code>/feeds</code>, <code>/feeds add URL</code> atau "
        "<code>/feeds remove URL</code>",
        "feeds_none": "Belum ada feed yang dipantau. Tambahkan: <code>/feeds add URL</code>",
        "feed_added": "{url} ditambahkan: <code>berita watch</code> memeriksanya setiap "
        "{minutes} menit.",
        "feed_known": "{url} sudah dipantau.",
        "feed_removed": "{url} dihapus; artikelnya tetap disimpan.",
        "feed_configured": "{url} diatur di FEEDS atau FEEDS_FILE: hapus di sana.",
        "feed_unknown": "{url} bukan feed yang dipantau.",
    },
}


class Html(str):
    """Text that is already HTML: `text` inserts it as it is."""

    __slots__ = ()


def text(language: str, key: str, **values: object) -> str:
    """A template in the language (English when unknown); values are escaped unless Html."""
    template = TEXTS.get(language, TEXTS["en"])[key]
    return template.format(
        **{k: v if isinstance(v, Html) else escape(str(v)) for k, v in values.items()}
    )


def answer_html(answer: Answer) -> str:
    """The answer, escaped, then its sources; a link only to an article's own http(s) URL."""
    lines = [escape(answer.answer)]
    sources = []
    for metadata in answer.cited():
        title = linked_title(metadata.get("title") or metadata["doc_id"], metadata.get("url", ""))
        date = metadata.get("published")
        sources.append(f"{len(sources) + 1}. {title}" + (f" — {escape(date)}" if date else ""))
    if sources:
        lines += ["", f"<b>{answer.sources_heading}</b>", *sources]
    return "\n".join(lines)


def context_html(answer: Answer, limit: int = 1500) -> str:
    """The passage the answer quotes, under its article's linked title and date."""
    cited = [p for p in answer.passages if p.document.metadata["doc_id"] in answer.citations[:1]]
    opening = answer.answer[:60]
    passage = next(
        (p for p in cited if opening in passage_body(p.document)), cited[0] if cited else None
    )
    if passage is None:
        return escape(answer.answer)
    metadata = passage.document.metadata
    title = linked_title(metadata.get("title") or metadata["doc_id"], metadata.get("url", ""))
    date = metadata.get("published")
    body = passage_body(passage.document)
    if len(body) > limit:
        body = body[: limit - 1].rstrip() + "…"
    return f"<b>{title}</b>" + (f" — {escape(date)}" if date else "") + f"\n\n{escape(body)}"


def linked_title(title: str, url: str, limit: int = 200) -> str:
    """The title, escaped and clipped (so a line never outgrows a message), linked only to an
    article's own http(s) URL."""
    if len(title) > limit:
        title = title[: limit - 1].rstrip() + "…"
    if url.startswith(("http://", "https://")):
        return f'<a href="{escape(url, quote=True)}">{escape(title)}</a>'
    return escape(title)


def split_message(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split HTML into messages of at most `limit` characters, between paragraphs, then lines,
    then sentences, then words. Tags here never span a line, so no split breaks one."""
    if len(html) <= limit:
        return [html]
    pieces: list[str] = []
    for separator, pattern in (
        ("\n\n", r"\n\n"),
        ("\n", r"\n"),
        (" ", r"(?<=[.!?…])\s+"),
        (" ", r"\s+"),
    ):
        parts = re.split(pattern, html)
        if all(len(part) <= limit for part in parts):
            current = ""
            for part in parts:
                candidate = f"{current}{separator}{part}" if current else part
                if len(candidate) <= limit:
                    current = candidate
                else:
                    pieces.append(current)
                    current = part
            pieces.append(current)
            return [piece for piece in pieces if piece.strip()]
    return [html[i : i + limit] for i in range(0, len(html), limit)]
