"""Telegram step: python-telegram-bot handlers over the answering service (`berita bot`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from html import escape
from typing import Any

from telegram import BotCommand, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from berita import __version__
from berita.settings import Settings
from berita.text import detect_language
from bot.access import AccessPolicy, RateLimiter
from bot.replies import Html, answer_html, linked_title, split_message, text
from bot.service import AnswerService, StoreUnavailableError

log = logging.getLogger("berita.bot")

SOURCES_PAGE = 10
TYPING_EVERY_S = 4.0
COMMANDS = {
    "en": [
        ("ask", "Ask about the articles"),
        ("sources", "The latest articles"),
        ("about", "Version, model and store"),
        ("help", "How to use the bot"),
        ("start", "What I know"),
    ],
    "id": [
        ("ask", "Tanya tentang artikel"),
        ("sources", "Artikel terbaru"),
        ("about", "Versi, model, dan penyimpanan"),
        ("help", "Cara memakai bot"),
        ("start", "Apa yang saya ketahui"),
    ],
}


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Many chats at once, but each chat's updates one after another, in order."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers once earlier updates of its chat are done."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks[chat.id]
        try:
            async with lock:
                await coroutine
        finally:
            if not lock.locked() and self._locks.get(chat.id) is lock:
                del self._locks[chat.id]  # no update of this chat is waiting

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class TokenRedactor(logging.Filter):
    """Keeps the bot token out of every log line."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the token in the message and its arguments."""
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        return True


# -- helpers ----------------------------------------------------------------------------------


def _language(update: Update) -> str:
    message = update.effective_message
    if message and message.text and not message.text.startswith("/"):
        return detect_language(message.text)
    code = update.effective_user.language_code if update.effective_user else None
    return "id" if (code or "").startswith("id") else "en"


@contextlib.asynccontextmanager
async def _typing(message: Message) -> AsyncIterator[None]:
    """Show "typing…" in the chat, re-sent every few seconds, while the block runs."""

    async def keep_typing() -> None:
        while True:
            with contextlib.suppress(Exception):
                await message.chat.send_action(ChatAction.TYPING)
            await asyncio.sleep(TYPING_EVERY_S)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()


async def _reply(message: Message, html: str) -> None:
    for part in split_message(html):
        await message.reply_html(part, do_quote=message.chat.type != ChatType.PRIVATE)


def _service(context: ContextTypes.DEFAULT_TYPE) -> AnswerService:
    return context.application.bot_data["service"]


def _settings(context: ContextTypes.DEFAULT_TYPE) -> Settings:
    return context.application.bot_data["settings"]


# -- guards -----------------------------------------------------------------------------------


async def guard_access(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Runs before every handler: strangers get one polite refusal, then silence."""
    policy: AccessPolicy = context.application.bot_data["access"]
    user = update.effective_user
    chat = update.effective_chat
    if policy.allows(user.id if user else None, chat.id if chat else None):
        return
    log.info(
        "update=%s refused user=%s chat=%s", update.update_id, user and user.id, chat and chat.id
    )
    if update.effective_message and policy.first_refusal(user.id if user else None):
        await update.effective_message.reply_html(text(_language(update), "not_allowed"))
    raise ApplicationHandlerStop


# -- questions --------------------------------------------------------------------------------


async def answer_question(
    update: Update, context: ContextTypes.DEFAULT_TYPE, question: str
) -> None:
    """Check length and rate, answer off the event loop, reply in the question's language."""
    message = update.effective_message
    settings = _settings(context)
    language = detect_language(question)
    if len(question) > settings.max_question_chars:
        await message.reply_html(
            text(language, "too_long", length=len(question), limit=settings.max_question_chars)
        )
        return
    wait = context.application.bot_data["rate"].wait_seconds(update.effective_user.id)
    if wait:
        await message.reply_html(text(language, "slow_down", seconds=wait))
        return
    async with _typing(message):
        answer = await _service(context).ask(question)
    if not answer.passages:
        await message.reply_html(text(language, "empty_store"))
        return
    log.info(
        "update=%s chat=%s answered abstained=%s ms=%.0f",
        update.update_id,
        message.chat_id,
        answer.abstained,
        answer.timings_ms["total"],
    )
    await _reply(message, answer_html(answer))


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a private chat every text message is a question."""
    await answer_question(update, context, update.effective_message.text.strip())


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In groups, answer only messages that mention the bot or reply to it."""
    message = update.effective_message
    username = context.bot.username
    replied = message.reply_to_message
    to_bot = bool(replied and replied.from_user and replied.from_user.id == context.bot.id)
    mentions = [
        entity
        for entity in message.entities
        if entity.type == "mention"
        and message.parse_entity(entity).lower() == f"@{username}".lower()
    ]
    if not (to_bot or mentions):
        return
    question = re.sub(rf"@{re.escape(username)}\b", " ", message.text, flags=re.IGNORECASE)
    question = " ".join(question.split())
    if question:
        await answer_question(update, context, question)


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask QUESTION."""
    question = " ".join(context.args or [])
    if not question:
        await update.effective_message.reply_html(text(_language(update), "ask_usage"))
        return
    await answer_question(update, context, question)


# -- commands ---------------------------------------------------------------------------------


async def start_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: what the bot knows and how to ask."""
    language = _language(update)
    overview = await _service(context).overview()
    span = (
        text(language, "span", first=overview.first, last=overview.last) if overview.first else ""
    )
    await update.effective_message.reply_html(
        text(language, "start", articles=overview.articles, span=Html(span))
    )


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help: the commands."""
    await update.effective_message.reply_html(text(_language(update), "help"))


async def sources_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/sources [PAGE]: the latest articles, ten a page."""
    language = _language(update)
    sources = await _service(context).sources()
    if not sources:
        await update.effective_message.reply_html(text(language, "sources_none"))
        return
    pages = (len(sources) + SOURCES_PAGE - 1) // SOURCES_PAGE
    page = int(context.args[0]) if context.args and context.args[0].isdigit() else 1
    page = min(max(page, 1), pages)
    lines = [text(language, "sources_title", page=page, pages=pages)]
    for info in sources[(page - 1) * SOURCES_PAGE : page * SOURCES_PAGE]:
        title = linked_title(info.title or info.doc_id, info.url)
        date = f" — {escape(info.published)}" if info.published else ""
        lines.append(f"• {title}{date} <code>{escape(info.doc_id)}</code>")
    if page < pages:
        lines.append(text(language, "sources_more", next=page + 1))
    await _reply(update.effective_message, "\n".join(lines))


async def about_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/about: version, embedding model, store."""
    settings = _settings(context)
    language = _language(update)
    try:
        articles = (await _service(context).overview()).articles
    except StoreUnavailableError:
        articles = "?"
    store = (
        f"{settings.chroma_host}:{settings.chroma_port}"
        if settings.server_mode
        else str(settings.chroma_path)
    )
    await update.effective_message.reply_html(
        text(
            language,
            "about",
            version=__version__,
            model=settings.embedding_model,
            answers=Html(
                text(language, "generated", llm=settings.llm_model)
                if settings.llm_model
                else text(language, "extractive")
            ),
            store=f"{store} / {settings.chroma_collection}",
            articles=articles,
        )
    )


async def _admin_arguments(
    update: Update, context: ContextTypes.DEFAULT_TYPE, usage: str, keep: Callable[[str], bool]
) -> list[str]:
    """The command's arguments when an admin gave some; otherwise replies why and returns []."""
    language = _language(update)
    message = update.effective_message
    if not context.application.bot_data["access"].is_admin(update.effective_user.id):
        await message.reply_html(text(language, "admins_only"))
        return []
    arguments = [arg for arg in context.args or [] if keep(arg)]
    if not arguments:
        await message.reply_html(text(language, usage))
    return arguments


def _is_url(argument: str) -> bool:
    return argument.startswith(("http://", "https://"))


async def add_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/add URL...: admins ingest articles or feeds; the reply is the ingest summary."""
    urls = await _admin_arguments(update, context, "add_usage", _is_url)
    if not urls:
        return
    message = update.effective_message
    await message.reply_html(text(_language(update), "adding", count=len(urls)))
    async with _typing(message):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "berita.cli",
            "ingest",
            *urls,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=os.environ.copy(),
        )
        stdout, stderr = await process.communicate()
    errors = [
        line
        for line in stderr.decode(errors="replace").splitlines()
        if line.startswith(("error ", "berita:"))
    ]
    summary = stdout.decode(errors="replace").strip() or "ingest failed"
    await _reply(message, "\n".join(escape(line) for line in [summary, *errors]))
    await _service(context).refresh()


async def remove_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/remove DOC_ID...: admins delete articles."""
    doc_ids = await _admin_arguments(update, context, "remove_usage", bool)
    if not doc_ids:
        return
    language = _language(update)
    message = update.effective_message
    removed = await _service(context).remove(doc_ids)
    lines = [
        text(language, "removed", doc_id=doc_id, count=count)
        if count
        else text(language, "not_found", doc_id=doc_id)
        for doc_id, count in removed.items()
    ]
    await message.reply_html("\n".join(lines))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its update, and tell the user in one line (a store that is down
    gets its own reply, wherever a handler met it)."""
    update_id = update.update_id if isinstance(update, Update) else None
    store_down = isinstance(context.error, StoreUnavailableError)
    if store_down:
        log.warning("update=%s store unavailable: %s", update_id, context.error)
    else:
        log.error("update=%s failed: %s", update_id, context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        with contextlib.suppress(Exception):
            reply = text(_language(update), "store_down" if store_down else "error")
            await update.effective_message.reply_html(reply)


# -- application --------------------------------------------------------------------------------


async def _post_init(application: Application) -> None:
    for language, commands in COMMANDS.items():
        await application.bot.set_my_commands(
            [BotCommand(name, description) for name, description in commands],
            language_code=None if language == "en" else language,
        )
    service: AnswerService = application.bot_data["service"]
    interval = application.bot_data["settings"].bot_refresh_s

    async def refresh_forever() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await service.refresh()
            except Exception:
                log.exception("refresh failed")

    application.bot_data["refresher"] = asyncio.create_task(refresh_forever())


async def _post_shutdown(application: Application) -> None:
    refresher = application.bot_data.get("refresher")
    if refresher:
        refresher.cancel()
    application.bot_data["service"].close()


def build_application(settings: Settings) -> Application:
    """The bot: one Application, its handlers, guards and error handler."""
    token = settings.telegram_bot_token.get_secret_value()
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=None))
        .rate_limiter(AIORateLimiter(max_retries=5))
        .concurrent_updates(ChatOrderedProcessor(256))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data.update(
        settings=settings,
        service=AnswerService(settings),
        access=AccessPolicy(settings),
        rate=RateLimiter(settings.rate_limit_per_minute),
    )
    application.add_handler(TypeHandler(Update, guard_access), group=-1)
    application.add_handler(CommandHandler("start", start_command))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("ask", ask_command))
    application.add_handler(CommandHandler("sources", sources_command))
    application.add_handler(CommandHandler("about", about_command))
    application.add_handler(CommandHandler("add", add_command))
    application.add_handler(CommandHandler("remove", remove_command))
    text_messages = filters.TEXT & ~filters.COMMAND
    application.add_handler(
        MessageHandler(text_messages & filters.ChatType.PRIVATE, on_private_text)
    )
    application.add_handler(MessageHandler(text_messages & filters.ChatType.GROUPS, on_group_text))
    application.add_error_handler(on_error)
    return application


def run_bot(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM: long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set."""
    if settings.telegram_bot_token is None:
        print("berita: set TELEGRAM_BOT_TOKEN (from @BotFather) to run the bot", file=sys.stderr)
        return 2
    token = settings.telegram_bot_token.get_secret_value()
    for handler in logging.getLogger().handlers:
        handler.addFilter(TokenRedactor(token))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
    application = build_application(settings)
    updates = [Update.MESSAGE]
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret
        application.run_webhook(
            listen="0.0.0.0",  # noqa: S104 - a webhook must be reachable
            port=settings.telegram_webhook_port,
            url_path="telegram",
            webhook_url=settings.telegram_webhook_url.rstrip("/") + "/telegram",
            secret_token=secret.get_secret_value() if secret else None,
            allowed_updates=updates,
        )
    else:
        application.run_polling(allowed_updates=updates)
    return 0
