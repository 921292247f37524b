"""Who may use the bot, and how often."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

from berita.settings import Settings


class AccessPolicy:
    """Allow-lists of users and chats (empty = open) and the admins."""

    def __init__(self, settings: Settings) -> None:
        self.users = set(settings.allowed_user_ids)
        self.chats = set(settings.allowed_chat_ids)
        self.admins = set(settings.admin_user_ids)
        self._refused: set[int] = set()

    def allows(self, user_id: int | None, chat_id: int | None) -> bool:
        """Whether this user in this chat may talk to the bot (admins always may)."""
        if user_id in self.admins:
            return True
        user_ok = not self.users or user_id in self.users
        chat_ok = not self.chats or chat_id in self.chats
        return user_ok and chat_ok

    def first_refusal(self, user_id: int | None) -> bool:
        """True the first time a refused user is seen: they get one polite reply, no more."""
        if user_id in self._refused:
            return False
        self._refused.add(user_id)
        return True

    def is_admin(self, user_id: int | None) -> bool:
        """Whether the user may /add and /remove."""
        return user_id in self.admins


class RateLimiter:
    """At most `per_minute` questions per user in any 60 seconds."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._asked: dict[int, deque[float]] = defaultdict(deque)

    def wait_seconds(self, user_id: int) -> int:
        """0 when the user may ask now (and counts the question), else seconds to wait."""
        now = self._clock()
        asked = self._asked[user_id]
        while asked and now - asked[0] >= 60:
            asked.popleft()
        if len(asked) >= self.per_minute:
            return max(1, int(60 - (now - asked[0])) + 1)
        asked.append(now)
        return 0
