"""Guards that run before every handler: the allow-list, then the per-user rate limit."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, filters

from berita.bot.context import Context, app_language, language_of
from berita.bot.replies import text

log = logging.getLogger(__name__)


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
        await update.effective_message.reply_html(text(app_language(update), "not_allowed"))
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
            text(language_of(update), "slow_down", seconds=wait)
        )
    raise ApplicationHandlerStop


def _to_bot(update: Update, context: Context) -> bool:
    """Whether the update asks the bot something: anything in a private chat; in groups a
    command, a mention of the bot or a reply to it (group chatter is none of its business)."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    addressed = (
        filters.COMMAND | filters.Mention(context.bot.username) | RepliesToBot(context.bot.id)
    )
    return bool(addressed.check_update(update))


class RepliesToBot(filters.MessageFilter):
    """Messages that reply to one of the bot's own messages."""

    def __init__(self, bot_id: int) -> None:
        super().__init__(name="RepliesToBot")
        self.bot_id = bot_id

    def filter(self, message: Message) -> bool:
        """True for a reply to the bot."""
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == self.bot_id)
