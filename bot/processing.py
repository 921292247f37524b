"""How the bot processes updates and writes logs: each chat's updates in order, the token
never in a log line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


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
