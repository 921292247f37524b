"""Telegram step: one Application wiring the handlers (`questions`, `commands`, `admin`,
`buttons`) and guards over the answering service; `berita bot` runs it."""

from __future__ import annotations

import contextlib
import logging
import sys
import time

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from berita.bot.access import AccessPolicy, RateLimiter
from berita.bot.admin import add_command, feedback_command, feeds_command, remove_command
from berita.bot.buttons import RecentAnswers, on_button
from berita.bot.commands import about_command, help_command, sources_command, start_command
from berita.bot.context import BotData, Context, language_of
from berita.bot.feedback import Feedback
from berita.bot.guards import RepliesToBot, guard_access, guard_rate
from berita.bot.processing import ChatOrderedProcessor, TokenRedactor, redact
from berita.bot.questions import (
    ask_command,
    new_command,
    on_group_text,
    on_other_message,
    on_private_text,
)
from berita.bot.replies import text
from berita.bot.service import AnswerService, StoreUnavailableError
from berita.settings import Settings

log = logging.getLogger(__name__)
CONFLICT_SAY_EVERY_S = 300

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


async def on_error(update: object, context: Context) -> None:
    """Log the failure with its update, and tell the user in one line (a store that is down
    gets its own reply, wherever a handler met it)."""
    if isinstance(context.error, Conflict):
        _say_conflict(context.bot_data, context.error)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    store_down = isinstance(context.error, StoreUnavailableError)
    if store_down:
        log.warning("update=%s store unavailable: %s", update_id, context.error)
    else:
        log.error("update=%s failed: %s", update_id, context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message:
        with contextlib.suppress(Exception):
            reply = text(language_of(update), "store_down" if store_down else "error")
            await update.effective_message.reply_html(reply)


def _say_conflict(data: BotData, error: Conflict) -> None:
    """Telegram gives this token's updates to someone else: say so in one line every
    CONFLICT_SAY_EVERY_S (polling retries about every second, backing off to 30 s)."""
    now = time.monotonic()
    if data.conflict_said_at is not None and now - data.conflict_said_at < CONFLICT_SAY_EVERY_S:
        return
    data.conflict_said_at = now
    log.warning(
        "Telegram refused this bot's polling (409 %s): another process polls this token, or a "
        "webhook is set for it. Run one polling bot per token; several bots share one token "
        "only as webhook workers behind one URL (docs/deployment.md)",
        error.message,
    )


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
    addressed = filters.Mention(application.bot.username) | RepliesToBot(application.bot.id)
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
