"""What every handler shares: the bot's data, the user's language, "typing…", long replies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.ext import CallbackContext, ExtBot

from berita.bot.replies import split_message
from berita.text import detect_language

if TYPE_CHECKING:
    from berita.bot.access import AccessPolicy, RateLimiter
    from berita.bot.buttons import RecentAnswers
    from berita.bot.feedback import Feedback
    from berita.bot.service import AnswerService
    from berita.settings import Settings

TYPING_EVERY_S = 4.0
# "typing…" only for an answer that takes a while: most take ~0.1 s, and each chat action is a
# request that counts against Telegram's ~30 a second (AIORateLimiter), as replies do
TYPING_AFTER_S = 0.5


class BotData:
    """What every handler shares; PTB creates it, `build_application` fills it."""

    settings: Settings
    service: AnswerService
    access: AccessPolicy
    rate: RateLimiter
    answers: RecentAnswers
    feedback: Feedback | None  # FEEDBACK=false: none
    conflict_said_at: float | None = None  # when Telegram's 409 Conflict was last logged


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]


def language_of(update: Update) -> str:
    """The language of the message's text; of the user's app for a command."""
    message = update.effective_message
    if message and message.text and not message.text.startswith("/"):
        return detect_language(message.text)
    return app_language(update)


def app_language(update: Update) -> str:
    """The language of the user's Telegram app."""
    code = update.effective_user.language_code if update.effective_user else None
    return "id" if (code or "").startswith("id") else "en"


@contextlib.asynccontextmanager
async def showing_typing(message: Message) -> AsyncIterator[None]:
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


async def reply(
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
