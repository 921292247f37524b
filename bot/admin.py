"""Admins' commands: /add, /remove, /feeds and /feedback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from html import escape

from telegram import Update

from berita.bot.context import Context, language_of, reply, showing_typing
from berita.bot.replies import Html, text


async def admin_arguments(
    update: Update, context: Context, usage: str, keep: Callable[[str], bool]
) -> list[str]:
    """The command's arguments when an admin gave some; otherwise replies why and returns []."""
    if not await require_admin(update, context):
        return []
    arguments = [arg for arg in context.args or [] if keep(arg)]
    if not arguments:
        await update.effective_message.reply_html(text(language_of(update), usage))
    return arguments


async def require_admin(update: Update, context: Context) -> bool:
    """Whether the user is an admin; anyone else is told that only admins may do this."""
    if context.bot_data.access.is_admin(update.effective_user.id):
        return True
    await update.effective_message.reply_html(text(language_of(update), "admins_only"))
    return False


def _is_url(argument: str) -> bool:
    return argument.startswith(("http://", "https://"))


async def add_command(update: Update, context: Context) -> None:
    """/add URL...: admins ingest articles or feeds (in the bot, at most ADD_TIMEOUT_S); the
    reply is the ingest's summary and a line for each URL that failed."""
    urls = await admin_arguments(update, context, "add_usage", _is_url)
    if not urls:
        return
    message = update.effective_message
    await message.reply_html(text(language_of(update), "adding", count=len(urls)))
    limit = context.bot_data.settings.add_timeout_s
    async with showing_typing(message):
        summary = await context.bot_data.service.add(urls, limit)
    lines = [summary.line()]
    lines += [f"error {failure.origin}: {failure.reason}" for failure in summary.failures]
    if summary.interrupted:
        lines.append(f"/add stopped after ADD_TIMEOUT_S ({limit:g} s)")
    await reply(message, "\n".join(escape(line) for line in lines))


async def remove_command(update: Update, context: Context) -> None:
    """/remove DOC_ID...: admins delete articles."""
    doc_ids = await admin_arguments(update, context, "remove_usage", bool)
    if not doc_ids:
        return
    language = language_of(update)
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
    if not await require_admin(update, context):
        return
    language = language_of(update)
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
    await reply(message, "\n".join(lines))


async def feedback_command(update: Update, context: Context) -> None:
    """/feedback: admins see the latest 👎 and the most-asked refused questions."""
    if not await require_admin(update, context):
        return
    language = language_of(update)
    feedback = context.bot_data.feedback
    if feedback is None:
        await update.effective_message.reply_html(text(language, "feedback_off"))
        return
    report = await asyncio.to_thread(feedback.report)
    none = text(language, "feedback_none")
    down = "\n".join(f"• {escape(q)} → {escape(a[:200])}" for q, a in report.down) or none
    refused = "\n".join(f"• {escape(q)} ({n}×)" for q, n in report.refused) or none
    await reply(
        update.effective_message,
        text(language, "feedback", down=Html(down), refused=Html(refused)),
    )
