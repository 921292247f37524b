"""Who may use the bot, and how often: bounded in memory however many strangers write."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

from berita.settings import Settings

REMEMBERED_REFUSALS = 10_000  # strangers told "private"; the oldest are forgotten first
WINDOW_S = 60.0


class AccessPolicy:
    """Allow-lists of users and chats (empty = open) and the admins."""

    def __init__(self, settings: Settings, remembered: int = REMEMBERED_REFUSALS) -> None:
        self.users = set(settings.allowed_user_ids)
        self.chats = set(settings.allowed_chat_ids)
        self.admins = set(settings.admin_user_ids)
        self._remembered = remembered
        self._refused: OrderedDict[int | None, None] = OrderedDict()

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
            self._refused.move_to_end(user_id)
            return False
        self._refused[user_id] = None
        if len(self._refused) > self._remembered:
            self._refused.popitem(last=False)
        return True

    def is_admin(self, user_id: int | None) -> bool:
        """Whether the user may /add and /remove (and see where the store is)."""
        return user_id in self.admins


class RateLimiter:
    """At most `per_minute` requests per user in any 60 seconds; a user over the limit is told
    once per window. Users with nothing in the window take no memory."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._asked: dict[int, deque[float]] = {}
        self._told: dict[int, float] = {}  # user -> when their current wait ends
        self._next_sweep = 0.0

    def check(self, user_id: int) -> tuple[int, bool]:
        """(0, False) when the user may go on (the request is counted); otherwise the seconds
        to wait, and whether to tell them (only the first time in this window)."""
        now = self._clock()
        self._sweep(now)
        asked = self._asked.setdefault(user_id, deque())
        while asked and now - asked[0] >= WINDOW_S:
            asked.popleft()
        if len(asked) < self.per_minute:
            asked.append(now)
            return 0, False
        ends = asked[0] + WINDOW_S
        wait = max(1, int(ends - now) + 1)
        tell = self._told.get(user_id) != ends
        self._told[user_id] = ends
        return wait, tell

    def tracked_users(self) -> int:
        """How many users the limiter holds state for."""
        return len(self._asked.keys() | self._told.keys())

    def _sweep(self, now: float) -> None:
        """Forget users whose window has passed (at most once a window)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + WINDOW_S
        for user_id in [
            u for u, asked in self._asked.items() if not asked or now - asked[-1] >= WINDOW_S
        ]:
            del self._asked[user_id]
        for user_id in [u for u, ends in self._told.items() if ends <= now]:
            del self._told[user_id]
