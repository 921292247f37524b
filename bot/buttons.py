"""The buttons under an answer: its context, 👍 and 👎."""

from __future__ import annotations

import asyncio
import re
import secrets

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from berita.answer.answerer import Answer
from berita.bot.context import Context, app_language
from berita.bot.replies import context_html, text


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


def answer_buttons(token: str, language: str) -> InlineKeyboardMarkup:
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
    language = app_language(update)
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
