"""Everyone's commands: /start, /help, /sources, /about."""

from __future__ import annotations

from html import escape

from telegram import Update

from berita import __version__
from berita.bot.context import Context, language_of, reply
from berita.bot.replies import Html, linked_title, text
from berita.bot.service import StoreUnavailableError

SOURCES_PAGE = 10


async def start_command(update: Update, context: Context) -> None:
    """/start: what the bot knows and how to ask."""
    language = language_of(update)
    overview = await context.bot_data.service.overview()
    noun = text(language, "one_article" if overview.articles == 1 else "articles")
    span = ""
    if overview.first:
        days = "one_day" if overview.first == overview.last else "span"
        span = text(language, days, first=overview.first, last=overview.last)
    await update.effective_message.reply_html(
        text(language, "start", articles=overview.articles, noun=Html(noun), span=Html(span))
    )


async def help_command(update: Update, context: Context) -> None:
    """/help: the commands."""
    minutes = context.bot_data.settings.conversation_timeout_min
    await update.effective_message.reply_html(
        text(language_of(update), "help", minutes=f"{minutes:g}")
    )


async def sources_command(update: Update, context: Context) -> None:
    """/sources [PAGE]: the latest articles, ten a page."""
    language = language_of(update)
    sources = await context.bot_data.service.sources()
    if not sources:
        await update.effective_message.reply_html(text(language, "sources_none"))
        return
    pages = (len(sources) + SOURCES_PAGE - 1) // SOURCES_PAGE
    asked = context.args[0] if context.args else ""
    page = int(asked) if asked.isascii() and asked.isdigit() else 1  # "²" is a digit, no number
    page = min(max(page, 1), pages)
    lines = [text(language, "sources_title", page=page, pages=pages)]
    for info in sources[(page - 1) * SOURCES_PAGE : page * SOURCES_PAGE]:
        title = linked_title(info.title or info.doc_id, info.url)
        date = f" — {escape(info.published)}" if info.published else ""
        lines.append(f"• {title}{date} <code>{escape(info.doc_id)}</code>")
    if page < pages:
        lines.append(text(language, "sources_more", next=page + 1))
    await reply(update.effective_message, "\n".join(lines))


async def about_command(update: Update, context: Context) -> None:
    """/about: version, embedding model, how answers are made; admins also see the store."""
    settings = context.bot_data.settings
    language = language_of(update)
    try:
        articles: object = (await context.bot_data.service.overview()).articles
    except StoreUnavailableError:
        articles = "?"
    lines = text(
        language,
        "about",
        version=__version__,
        model=settings.embedding_model,
        answers=Html(
            text(language, "generated", llm=settings.llm_model)
            if settings.llm_model
            else text(language, "extractive")
        ),
        articles=articles,
    )
    if context.bot_data.access.is_admin(update.effective_user.id):
        lines += "\n" + text(language, "about_store", store=settings.store_location)
    await update.effective_message.reply_html(lines)
