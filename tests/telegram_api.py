"""A small Telegram Bot API server for tests: behaves like Telegram where berita depends on it.

It serves /bot<TOKEN>/<method> on 127.0.0.1 (aiohttp, in a thread of its own). Tests play users
by queueing updates, then read what the bot sent. It enforces what Telegram enforces: text at
most 4096 characters, HTML that parses ("can't parse entities"), 409 Conflict for a
`getUpdates` that a newer one ends or that a webhook forbids, and, when switched on, 429
Too Many Requests with retry_after.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

BOT_ID = 777000
BOT_USERNAME = "berita_test_bot"
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
}


class ConflictError(Exception):
    """Telegram's 409: this token's updates go to someone else."""


class EntityError(ValueError):
    """HTML that Telegram would refuse."""


class _TelegramHTML(HTMLParser):
    """Parses Bot API HTML the strict way Telegram does; collects the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise EntityError(f'Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise EntityError(f'Unmatched end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> str:
    """The visible text of Bot API HTML, or EntityError as Telegram would answer."""
    stray = re.search(r"<(?![a-zA-Z/])|&(?!#?\w+;)", text)
    if stray:
        raise EntityError(f"Can't find end of the entity starting at byte offset {stray.start()}")
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"')
    return "".join(parser.text)


@dataclass
class Sent:
    """A message the bot sent (or edited)."""

    chat_id: int
    text: str
    parse_mode: str | None
    message_id: int
    reply_to: int | None = None
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, callback data)
    at: float = field(default_factory=time.monotonic)


@dataclass
class BotAPIServer:
    """The server's state, and helpers for tests."""

    token: str = "123456:TEST-TOKEN"
    updates: list[dict[str, Any]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    actions: list[tuple[int, str]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    flood_remaining: int = 0
    flood_retry_after: int = 1
    fail_methods: dict[str, int] = field(default_factory=dict)  # method -> HTTP status
    webhook: dict[str, Any] = field(default_factory=dict)
    callback_answers: list[str] = field(default_factory=list)  # answerCallbackQuery texts

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._lock = threading.RLock()
        self._new_update: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._polls = 0  # getUpdates requests so far: a newer one ends an older one (409)

    # -- playing users --------------------------------------------------------------------

    def user_says(
        self,
        text: str,
        user_id: int = 42,
        chat_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
        reply_to_bot: bool | int = False,
        photo: bool = False,
    ) -> int:
        """Queue a user's message (a photo without text when `photo`; a reply to the bot's
        message of id `reply_to_bot`, or to an earlier one when True); returns its id."""
        chat_id = user_id if chat_id is None else chat_id
        message_id = next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {
                "id": chat_id,
                "type": chat_type,
                **({"title": "Group"} if chat_type != "private" else {"first_name": "User"}),
            },
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": f"User{user_id}",
                "language_code": language_code,
            },
            **({"photo": [_PHOTO]} if photo else {"text": text}),
        }
        entities = []
        command = re.match(r"/\w+(@\w+)?", text)
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": command.end()})
        for mention in re.finditer(rf"@{BOT_USERNAME}\b", text):
            if not command or mention.start() >= command.end():
                entities.append(
                    {
                        "type": "mention",
                        "offset": mention.start(),
                        "length": mention.end() - mention.start(),
                    }
                )
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": 1 if reply_to_bot is True else int(reply_to_bot),
                "date": int(time.time()),
                "text": "earlier answer",
                "chat": message["chat"],
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Berita"},
            }
        with self._lock:
            self.updates.append({"update_id": next(self._update_ids), "message": message})
        if self._loop and self._new_update:
            self._loop.call_soon_threadsafe(self._new_update.set)
        return message_id

    def user_presses(self, sent: Sent, data: str, user_id: int = 42) -> None:
        """Queue a press on an inline button (any callback data, forged ones too) under the
        bot's message `sent`."""
        message = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "text": parse_html(sent.text),
            "chat": {"id": sent.chat_id, "type": "private", "first_name": "User"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Berita"},
        }
        query = {
            "id": str(next(self._update_ids) + 10_000),
            "from": {"id": user_id, "is_bot": False, "first_name": "User", "language_code": "en"},
            "message": message,
            "chat_instance": "1",
            "data": data,
        }
        with self._lock:
            self.updates.append({"update_id": next(self._update_ids), "callback_query": query})
        if self._loop and self._new_update:
            self._loop.call_soon_threadsafe(self._new_update.set)

    def replies_to(self, chat_id: int) -> list[Sent]:
        """Messages sent to a chat, in order."""
        with self._lock:
            return [m for m in self.sent if m.chat_id == chat_id]

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> None:
        """Block until predicate(self) is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"condition not met in {timeout} s; sent: {self.sent[-5:]}")

    # -- HTTP ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        if token != self.token:
            return _error(401, "Unauthorized")
        params = dict(await request.post()) if request.can_read_body else {}
        if request.content_type == "application/json":
            params = await request.json()
        self.calls.append(method)
        if method in self.fail_methods:
            return _error(self.fail_methods[method], "Internal Server Error")
        handler = getattr(self, f"api_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        if method.lower() in ("sendmessage", "editmessagetext") and self.flood_remaining > 0:
            self.flood_remaining -= 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.flood_retry_after}",
                    "parameters": {"retry_after": self.flood_retry_after},
                },
                status=429,
            )
        try:
            result = await handler(params)
        except ConflictError as error:
            return _error(409, f"Conflict: {error}")
        except EntityError as error:
            self.errors.append(str(error))
            return _error(400, f"Bad Request: can't parse entities: {error}")
        except ValueError as error:
            self.errors.append(str(error))
            return _error(400, f"Bad Request: {error}")
        return web.json_response({"ok": True, "result": result})

    async def api_getme(self, params: dict) -> dict:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Berita",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def api_deletewebhook(self, params: dict) -> bool:
        self.webhook = {}
        return True

    async def api_setwebhook(self, params: dict) -> bool:
        self.webhook = dict(params)
        return True

    def update_json(self, text: str, user_id: int) -> dict[str, Any]:
        """An update as Telegram would post it to a webhook (not queued)."""
        self.user_says(text, user_id=user_id)
        with self._lock:
            return self.updates.pop()

    async def api_setmycommands(self, params: dict) -> bool:
        self.commands = (
            json.loads(params["commands"])
            if isinstance(params["commands"], str)
            else params["commands"]
        )
        return True

    async def api_getupdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        self._polls += 1
        poll = self._polls
        self._new_update.set()  # an older request still waiting ends now (409)
        while True:
            if self.webhook:
                raise ConflictError("can't use getUpdates method while webhook is active")
            if poll != self._polls:
                raise ConflictError(
                    "terminated by other getUpdates request; make sure that only one bot "
                    "instance is running"
                )
            with self._lock:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                pending = list(self.updates[:100])
            if pending or self._closing or time.monotonic() >= deadline:
                return pending
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())

    async def api_sendchataction(self, params: dict) -> bool:
        with self._lock:
            self.actions.append((int(params["chat_id"]), params["action"]))
        return True

    async def api_sendmessage(self, params: dict) -> dict:
        text = str(params.get("text", ""))
        parse_mode = params.get("parse_mode")
        visible = parse_html(text) if parse_mode == "HTML" else text
        if not visible.strip():
            raise ValueError("message text is empty")
        if len(visible) > 4096:
            raise ValueError("message is too long")
        chat_id = int(params["chat_id"])
        markup = params.get("reply_markup")
        markup = json.loads(markup) if isinstance(markup, str) else markup or {}
        buttons = [
            (button["text"], button["callback_data"])
            for row in markup.get("inline_keyboard", [])
            for button in row
        ]
        reply = params.get("reply_parameters")
        reply_to = json.loads(reply)["message_id"] if isinstance(reply, str) else None
        message_id = next(self._message_ids)
        with self._lock:
            self.sent.append(Sent(chat_id, text, parse_mode, message_id, reply_to, buttons))
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "text": visible,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Berita"},
        }

    async def api_answercallbackquery(self, params: dict) -> bool:
        with self._lock:
            self.callback_answers.append(str(params.get("text", "")))
        return True

    async def api_editmessagetext(self, params: dict) -> dict:
        return await self.api_sendmessage(params)

    # -- running ---------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free loopback port in a background thread; returns the base URL."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("test Bot API server did not start")
        return f"http://127.0.0.1:{self.port}"

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._new_update = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        """Stop serving."""
        if self._loop:
            self._closing = True  # a long poll still open returns now, not at its timeout
            self._loop.call_soon_threadsafe(self._new_update.set)
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


_PHOTO = {"file_id": "photo-1", "file_unique_id": "u1", "width": 10, "height": 10}


def _error(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )
