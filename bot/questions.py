"""Questions: private messages, mentions and replies in groups, /ask, and /new (each question
belongs to a conversation)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Hashable

from telegram import Message, Update
from telegram.constants import ChatType

from berita.answer.conversation import Threads
from berita.bot.buttons import answer_buttons
from berita.bot.context import Context, app_language, language_of, reply, showing_typing
from berita.bot.replies import answer_html, text
from berita.text import detect_language

log = logging.getLogger(__name__)


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
    thread = conversation_of(message, service.threads)
    async with showing_typing(message):
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
        buttons = answer_buttons(context.bot_data.answers.add(answer), answer.language)
    for sent in await reply(message, answer_html(answer), buttons):  # a reply continues it
        service.threads.link(("message", sent.chat_id, sent.message_id), thread)


def conversation_of(message: Message, threads: Threads) -> Hashable:
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
    await update.effective_message.reply_html(text(app_language(update), "text_only"))


async def ask_command(update: Update, context: Context) -> None:
    """/ask QUESTION."""
    question = " ".join(context.args or [])
    if not question:
        await update.effective_message.reply_html(text(language_of(update), "ask_usage"))
        return
    await answer_question(update, context, question)


async def new_command(update: Update, context: Context) -> None:
    """/new: forget the conversation (in a group, the one of the answer it replies to)."""
    message = update.effective_message
    threads = context.bot_data.service.threads
    threads.forget(conversation_of(message, threads))
    await message.reply_html(text(language_of(update), "new_thread"))
