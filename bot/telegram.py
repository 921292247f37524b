"""Telegram step: python-telegram-bot handlers over the answering service (`berita bot`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from html import escape
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)

from berita import __version__
from berita.answer.answerer import Answer
from berita.answer.conversation import Threads
from berita.bot.access import AccessPolicy, RateLimiter
from berita.bot.feedback import Feedback
from berita.bot.replies import (
    Html,
    answer_html,
    context_html,
    linked_title,
    split_message,
    text,
)
from berita.bot.service import AnswerService, StoreUnavailableError
from berita.settings import Settings
from berita.text import detect_language

log = logging.getLogger(__name__)

SOURCES_PAGE = 10
TYPING_EVERY_S = 4.0
# "typing…" only for an answer that takes a while: most take ~0.1 s, and each chat action is a
# request that counts against Telegram's ~30 a second (AIORateLimiter), as replies do
TYPING_AFTER_S = 0.5
COMMANDS = {
    "en": [
        ("ask", "Ask about the articles"),
        ("sources", "The latest articles"),
        ("about", "Version and model"),
        ("new", "Start a new conversation"),
        ("help", "How to use the bot"),
        ("start", "What I know"),
    ],
    "id": [
        ("ask", "Tanya tentang artikel"),
        ("sources", "Artikel terbaru"),
        ("about", "Versi, model, dan penyimpanan"),
        ("new", "Mulai percakapan baru"),
        ("help", "Cara memakai bot"),
        ("start", "Apa yang saya ketahui"),
    ],
}


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Many chats at once, but each chat's updates one after another, in order."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat -> (lock, holders)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers once earlier updates of its chat are done."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock, holders = self._chats.get(chat.id, (asyncio.Lock(), 0))
        self._chats[chat.id] = (lock, holders + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, holders = self._chats[chat.id]
            if holders == 1:
                del self._chats[chat.id]  # no update of this chat runs or waits
            else:
                self._chats[chat.id] = (lock, holders - 1)

    def chats_tracked(self) -> int:
        """How many chats have an update running or waiting."""
        return len(self._chats)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


class TokenRedactor(logging.Formatter):
    """Formats log records as the handler did, with the bot token replaced everywhere:
    message, arguments and traceback alike."""

    def __init__(self, token: str, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.token = token
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        """The inner formatter's text, token redacted."""
        return redact(self.inner.format(record), self.token)


def redact(text: str, token: str) -> str:
    """The text with the token (and its secret half, should it appear alone) replaced."""
    secret = token.partition(":")[2]
    text = text.replace(token, "<token>")
    return text.replace(secret, "<token>") if len(secret) >= 8 else text


class BotData:
    """What every handler shares; PTB creates it, `build_application` fills it."""

    settings: Settings
    service: AnswerService
    access: AccessPolicy
    rate: RateLimiter
    answers: RecentAnswers
    feedback: Feedback | None  # FEEDBACK=false: none


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]


# -- helpers ----------------------------------------------------------------------------------


def _language(update: Update) -> str:
    message = update.effective_message
    if message and message.text and not message.text.startswith("/"):
        return detect_language(message.text)
    return _user_language(update)


def _user_language(update: Update) -> str:
    """The language of the user's Telegram app."""
    code = update.effective_user.language_code if update.effective_user else None
    return "id" if (code or "").startswith("id") else "en"


@contextlib.asynccontextmanager
async def _typing(message: Message) -> AsyncIterator[None]:
    """Show "typing…" in the chat while the block runs, once it has taken TYPING_AFTER_S,
    re-sent every few seconds."""

    async def keep_typing() -> None:
        await asyncio.sleep(TYPING_AFTER_S)
        while True:
            with contextlib.suppress(Exception):
                await message.chat.send_action(ChatAction.TYPING)
            await asyncio.sleep(TYPING_EVERY_S)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()


async def _reply(
    message: Message, html: str, buttons: InlineKeyboardMarkup | None = None
) -> list[Message]:
    """Reply in as many messages as it takes; `buttons` go under the last one."""
    parts = split_message(html)
    return [
        await message.reply_html(
            part,
            do_quote=message.chat.type != ChatType.PRIVATE,
            reply_markup=buttons if number == len(parts) - 1 else None,
        )
        for number, part in enumerate(parts)
    ]


# -- guards -----------------------------------------------------------------------------------


async def guard_access(update: Update, context: Context) -> None:
    """Runs before every handler: strangers get one polite refusal, then silence."""
    policy = context.bot_data.access
    user = update.effective_user
    chat = update.effective_chat
    if policy.allows(user.id if user else None, chat.id if chat else None):
        return
    log.info(
        "update=%s refused user=%s chat=%s", update.update_id, user and user.id, chat and chat.id
    )
    if update.effective_message and policy.first_refusal(user.id if user else None):
        await update.effective_message.reply_html(text(_user_language(update), "not_allowed"))
    raise ApplicationHandlerStop


async def guard_rate(update: Update, context: Context) -> None:
    """Runs before every handler but the allow-list's: at most RATE_LIMIT_PER_MINUTE requests
    per user (questions and commands alike); the first request over it in a window is told
    how long to wait, the rest get no reply."""
    user = update.effective_user
    if user is None or context.bot_data.access.is_admin(user.id) or not _to_bot(update, context):
        return
    wait, tell = context.bot_data.rate.check(user.id)
    if not wait:
        return
    if tell and update.effective_message:
        await update.effective_message.reply_html(
            text(_language(update), "slow_down", seconds=wait)
        )
    raise ApplicationHandlerStop


def _to_bot(update: Update, context: Context) -> bool:
    """Whether the update asks the bot something: anything in a private chat; in groups a
    command, a mention of the bot or a reply to it (group chatter is none of its business)."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    addressed = (
        filters.COMMAND | filters.Mention(context.bot.username) | _RepliesToBot(context.bot.id)
    )
    return bool(addressed.check_update(update))


# -- questions --------------------------------------------------------------------------------


async def answer_question(update: Update, context: Context, question: str) -> None:
    """Check the length, answer off the event loop, reply in the question's language."""
    message = update.effective_message
    settings = context.bot_data.settings
    if len(question) > settings.max_question_chars:
        await message.reply_html(
            text(
                detect_language(question[: settings.max_question_chars]),
                "too_long",
                length=len(question),
                limit=settings.max_question_chars,
            )
        )
        return
    language = detect_language(question)
    service = context.bot_data.service
    thread = _thread(message, service.threads)
    async with _typing(message):
        answer = await service.ask(question, thread)
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
    buttons = None
    feedback = context.bot_data.feedback
    if answer.abstained and feedback is not None:
        await asyncio.to_thread(feedback.refused, question)
    elif not answer.abstained:
        buttons = _answer_buttons(context.bot_data.answers.add(answer), answer.language)
    for sent in await _reply(message, answer_html(answer), buttons):  # a reply continues it
        service.threads.link(("message", sent.chat_id, sent.message_id), thread)


class RecentAnswers:
    """The latest answers by a short random token, for their buttons (older ones expire)."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._answers: dict[str, Answer] = {}

    def add(self, answer: Answer) -> str:
        """Keep an answer; returns its token."""
        token = secrets.token_hex(4)
        self._answers[token] = answer
        while len(self._answers) > self.size:
            del self._answers[next(iter(self._answers))]
        return token

    def get(self, token: str) -> Answer | None:
        """The answer, unless it expired."""
        return self._answers.get(token)


_BUTTON = re.compile(r"(context|up|down):([0-9a-f]{8})")


def _answer_buttons(token: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    text(language, "context_button"), callback_data=f"context:{token}"
                ),
                InlineKeyboardButton("👍", callback_data=f"up:{token}"),
                InlineKeyboardButton("👎", callback_data=f"down:{token}"),
            ]
        ]
    )


async def on_button(update: Update, context: Context) -> None:
    """An answer's buttons: its context, or a vote; a forged or expired one gets a notice."""
    query = update.callback_query
    language = _user_language(update)
    pressed = _BUTTON.fullmatch(query.data or "")
    answer = context.bot_data.answers.get(pressed.group(2)) if pressed else None
    if answer is None:
        await query.answer(text(language, "button_expired"))
        return
    if pressed.group(1) == "context":
        await query.answer()
        if query.message is not None:
            await query.message.reply_html(context_html(answer))
        return
    feedback = context.bot_data.feedback
    if feedback is not None:
        up = pressed.group(1) == "up"
        await asyncio.to_thread(feedback.vote, up, answer.question, answer.answer, answer.citations)
    await query.answer(text(language, "thanks"))


async def feedback_command(update: Update, context: Context) -> None:
    """/feedback: admins see the latest 👎 and the most-asked refused questions."""
    if not await _admin(update, context):
        return
    language = _language(update)
    feedback = context.bot_data.feedback
    if feedback is None:
        await update.effective_message.reply_html(text(language, "feedback_off"))
        return
    report = await asyncio.to_thread(feedback.report)
    none = text(language, "feedback_none")
    down = "\n".join(f"• {escape(q)} → {escape(a[:200])}" for q, a in report.down) or none
    refused = "\n".join(f"• {escape(q)} ({n}×)" for q, n in report.refused) or none
    await _reply(
        update.effective_message,
        text(language, "feedback", down=Html(down), refused=Html(refused)),
    )


def _thread(message: Message, threads: Threads) -> Hashable:
    """The conversation a question belongs to: its private chat's; in a group, the thread of
    the bot's answer it replies to, or a new one (each group member's question stands alone
    unless it replies)."""
    if message.chat.type == ChatType.PRIVATE:
        return ("chat", message.chat_id)
    replied = message.reply_to_message
    if replied is not None:
        thread = threads.thread_of(("message", message.chat_id, replied.message_id))
        if thread is not None:
            return thread
    return ("message", message.chat_id, message.message_id)


async def on_private_text(update: Update, context: Context) -> None:
    """In a private chat every text message is a question."""
    await answer_question(update, context, update.effective_message.text.strip())


async def on_group_text(update: Update, context: Context) -> None:
    """In groups, answer the messages that mention the bot or reply to it (the handler's
    filters chose them); the mention is not part of the question."""
    message = update.effective_message
    question = re.sub(rf"@{re.escape(context.bot.username)}\b", " ", message.text, flags=re.I)
    question = " ".join(question.split())
    if question:
        await answer_question(update, context, question)


async def on_other_message(update: Update, context: Context) -> None:
    """Photos, stickers, voice notes…: say in one line what the bot reads."""
    await update.effective_message.reply_html(text(_user_language(update), "text_only"))


class _RepliesToBot(filters.MessageFilter):
    """Messages that reply to one of the bot's own messages."""

    def __init__(self, bot_id: int) -> None:
        super().__init__(name="RepliesToBot")
        self.bot_id = bot_id

    def filter(self, message: Message) -> bool:
        """True for a reply to the bot."""
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == self.bot_id)


async def ask_command(update: Update, context: Context) -> None:
    """/ask QUESTION."""
    question = " ".join(context.args or [])
    if not question:
        await update.effective_message.reply_html(text(_language(update), "ask_usage"))
        return
    await answer_question(update, context, question)


# -- commands ---------------------------------------------------------------------------------


async def start_command(update: Update, context: Context) -> None:
    """/start: what the bot knows and how to ask."""
    language = _language(update)
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
        text(_language(update), "help", minutes=f"{minutes:g}")
    )


async def new_command(update: Update, context: Context) -> None:
    """/new: forget the conversation (in a group, the one of the answer it replies to)."""
    message = update.effective_message
    threads = context.bot_data.service.threads
    threads.forget(_thread(message, threads))
    await message.reply_html(text(_language(update), "new_thread"))


async def sources_command(update: Update, context: Context) -> None:
    """/sources [PAGE]: the latest articles, ten a page."""
    language = _language(update)
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
    await _reply(update.effective_message, "\n".join(lines))


async def about_command(update: Update, context: Context) -> None:
    """/about: version, embedding model, how answers are made; admins also see the store."""
    settings = context.bot_data.settings
    language = _language(update)
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
        store = (
            f"{settings.chroma_host}:{settings.chroma_port}"
            if settings.server_mode
            else str(settings.chroma_path)
        )
        lines += "\n" + text(
            language, "about_store", store=f"{store} / {settings.chroma_collection}"
        )
    await update.effective_message.reply_html(lines)


async def _admin_arguments(
    update: Update, context: Context, usage: str, keep: Callable[[str], bool]
) -> list[str]:
    """The command's arguments when an admin gave some; otherwise replies why and returns []."""
    if not await _admin(update, context):
        return []
    arguments = [arg for arg in context.args or [] if keep(arg)]
    if not arguments:
        await update.effective_message.reply_html(text(_language(update), usage))
    return arguments


async def _admin(update: Update, context: Context) -> bool:
    """Whether the user is an admin; anyone else is told that only admins may do this."""
    if context.bot_data.access.is_admin(update.effective_user.id):
        return True
    await update.effective_message.reply_html(text(_language(update), "admins_only"))
    return False


def _is_url(argument: str) -> bool:
    return argument.startswith(("http://", "https://"))


async def add_command(update: Update, context: Context) -> None:
    """/add URL...: admins ingest articles or feeds; the reply is the ingest summary."""
    urls = await _admin_arguments(update, context, "add_usage", _is_url)
    if not urls:
        return
    message = update.effective_message
    await message.reply_html(text(_language(update), "adding", count=len(urls)))
    limit = context.bot_data.settings.add_timeout_s
    async with _typing(message):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "berita.app.cli",
            "ingest",
            *urls,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=os.environ.copy(),
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), limit)
        except TimeoutError:
            process.send_signal(signal.SIGINT)  # it commits what it stored, then stops
            stdout, stderr = await process.communicate()
            stderr += f"berita: /add stopped after ADD_TIMEOUT_S ({limit:g} s)\n".encode()
    errors = [
        line
        for line in stderr.decode(errors="replace").splitlines()
        if line.startswith(("error ", "berita:"))
    ]
    summary = stdout.decode(errors="replace").strip() or "ingest failed"
    await _reply(message, "\n".join(escape(line) for line in [summary, *errors]))
    await context.bot_data.service.refresh()


async def remove_command(update: Update, context: Context) -> None:
    """/remove DOC_ID...: admins delete articles."""
    doc_ids = await _admin_arguments(update, context, "remove_usage", bool)
    if not doc_ids:
        return
    language = _language(update)
    message = update.effective_message
    removed = await context.bot_data.service.remove(doc_ids)
    lines = [
        text(language, "removed", doc_id=doc_id, count=count)
        if count
        else text(language, "not_found", doc_id=doc_id)
        for doc_id, count in removed.items()
    ]
    await message.reply_html("\n".join(lines))


async def feeds_command(update: Update, context: Context) -> None:
    """/feeds, /feeds add URL, /feeds remove URL: admins see and change the watched feeds."""
    if not await _admin(update, context):
        return
    language = _language(update)
    message = update.effective_message
    service = context.bot_data.service
    arguments = context.args or []
    action = arguments[0].lower() if arguments else ""
    url = arguments[1] if len(arguments) > 1 else ""
    if action in ("add", "remove") and _is_url(url):
        if action == "add":
            key = "feed_added" if await service.add_feed(url) else "feed_known"
        else:
            key = f"feed_{await service.remove_feed(url)}"
        minutes = context.bot_data.settings.feed_interval_min
        await message.reply_html(text(language, key, url=url, minutes=f"{minutes:g}"))
        return
    if action:
        await message.reply_html(text(language, "feeds_usage"))
        return
    feeds = await service.feeds()
    lines = [escape(state.describe()) for state in feeds] or [text(language, "feeds_none")]
    await _reply(message, "\n".join(lines))


async def on_error(update: object, context: Context) -> None:
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
    """Models loaded and the store opened (one that is down is answered for, not fatal),
    commands registered (best effort), group handlers that know the bot's name, and the store
    watcher scheduled."""
    try:
        await application.bot_data.service.start()
    except StoreUnavailableError as error:
        log.warning("the article store is unavailable (%s); answering once it is back", error)
    for language, commands in COMMANDS.items():
        try:
            await application.bot.set_my_commands(
                [BotCommand(name, description) for name, description in commands],
                language_code=None if language == "en" else language,
            )
        except TelegramError as error:
            log.warning("could not register the command menu (%s); going on without it", error)
            break
    addressed = filters.Mention(application.bot.username) | _RepliesToBot(application.bot.id)
    group_text = filters.TEXT & ~filters.COMMAND & filters.ChatType.GROUPS & addressed
    application.add_handler(MessageHandler(group_text, on_group_text))
    application.job_queue.run_repeating(
        _refresh_store, interval=application.bot_data.settings.bot_refresh_s, name="refresh"
    )


async def _refresh_store(context: Context) -> None:
    """Reopen the store when another process changed it (outages are logged by the service)."""
    await context.bot_data.service.refresh()


async def _post_shutdown(application: Application) -> None:
    application.bot_data.service.close()
    if application.bot_data.feedback is not None:
        application.bot_data.feedback.close()


def build_application(settings: Settings) -> Application:
    """The bot: one Application, its handlers, guards and error handler."""
    token = settings.telegram_bot_token.get_secret_value()
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .context_types(ContextTypes(bot_data=BotData))
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=None))
        .rate_limiter(AIORateLimiter(max_retries=5))
        .concurrent_updates(ChatOrderedProcessor(256))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    shared: BotData = application.bot_data
    shared.settings = settings
    shared.service = AnswerService(settings)
    shared.access = AccessPolicy(settings)
    shared.rate = RateLimiter(settings.rate_limit_per_minute)
    shared.answers = RecentAnswers()
    shared.feedback = (
        Feedback(settings.chroma_path.with_name("feedback.sqlite3")) if settings.feedback else None
    )
    application.add_handler(TypeHandler(Update, guard_access), group=-2)
    application.add_handler(TypeHandler(Update, guard_rate), group=-1)
    application.add_handler(CommandHandler("start", start_command))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("new", new_command))
    application.add_handler(CommandHandler("ask", ask_command))
    application.add_handler(CommandHandler("sources", sources_command))
    application.add_handler(CommandHandler("about", about_command))
    application.add_handler(CommandHandler("add", add_command))
    application.add_handler(CommandHandler("remove", remove_command))
    application.add_handler(CommandHandler("feeds", feeds_command))
    application.add_handler(CommandHandler("feedback", feedback_command))
    application.add_handler(CallbackQueryHandler(on_button))
    private = filters.ChatType.PRIVATE
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & private, on_private_text)
    )
    application.add_handler(MessageHandler(private & ~filters.TEXT, on_other_message))
    application.add_error_handler(on_error)
    return application


def run_bot(settings: Settings) -> int:
    """Run until SIGINT/SIGTERM: long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set."""
    if settings.telegram_bot_token is None:
        print("berita: set TELEGRAM_BOT_TOKEN (from @BotFather) to run the bot", file=sys.stderr)
        return 2
    if settings.telegram_webhook_url and settings.telegram_webhook_secret is None:
        print(
            "berita: webhook mode needs TELEGRAM_WEBHOOK_SECRET (Telegram sends it with every "
            "update; without it anyone could post forged updates)",
            file=sys.stderr,
        )
        return 2
    token = settings.telegram_bot_token.get_secret_value()
    for handler in logging.getLogger().handlers:
        handler.setFormatter(TokenRedactor(token, handler.formatter))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the token
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per store check
    application = build_application(settings)
    updates = [Update.MESSAGE, Update.CALLBACK_QUERY]
    try:
        if settings.telegram_webhook_url:
            application.run_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path="telegram",
                webhook_url=settings.telegram_webhook_url.rstrip("/") + "/telegram",
                secret_token=settings.telegram_webhook_secret.get_secret_value(),
                allowed_updates=updates,
            )
        else:
            application.run_polling(allowed_updates=updates)
    except InvalidToken:
        print(
            "berita: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather",
            file=sys.stderr,
        )
        return 2
    except TelegramError as error:
        print(f"berita: cannot run the bot: {redact(str(error), token)}", file=sys.stderr)
        return 1
    return 0
