"""A small OpenAI-compatible chat server for tests (POST /v1/chat/completions on 127.0.0.1).

By default it reads like a very literal model: it answers with the passage sentence that
shares the most words with the question, citing that passage, or NOT_FOUND when no sentence
shares two. Asked to rewrite a follow-up into a standalone question (berita's history-aware
prompt), it returns the rewrite a test scripted for it, else the follow-up unchanged. Tests can
script the reply instead, or make it fail with an HTTP status.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_WORD = re.compile(r"\w{4,}")


class ChatServer:
    """Serves chat completions; `requests` holds every request body it received."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: str | None = None  # scripted reply instead of reading
        self.standalone: dict[str, str] = {}  # follow-up -> its scripted standalone question
        self.fail_status: int | None = None
        self.delay_s = 0.0  # answer this late
        self.malformed = False  # answer 200 with a body that is no chat completion
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def respond(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Status and JSON for one chat request."""
        self.requests.append(body)
        time.sleep(self.delay_s)
        if self.malformed:
            return 200, {"choices": "not a list"}
        if self.fail_status:
            error = {"message": "model is overloaded", "type": "server_error", "code": None}
            return self.fail_status, {"error": error}
        messages = body["messages"]
        if messages[0]["content"].startswith("Given a chat history"):
            follow_up = messages[-1]["content"]
            content = self.standalone.get(follow_up, follow_up)
        else:
            user = next(m["content"] for m in messages if m["role"] == "user")
            content = self.reply if self.reply is not None else read_passages(user)
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length", 0))
                status, payload = server.respond(json.loads(self.rfile.read(length)))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def rewrites(requests: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The messages of each request that asked for a standalone question."""
    return [r["messages"] for r in requests if r["messages"][0]["content"].startswith("Given")]


def read_passages(user_message: str) -> str:
    """The sentence sharing most words with the question, cited; NOT_FOUND below two."""
    passages, _, question = user_message.partition("</passages>")
    asked = {w.casefold() for w in _WORD.findall(question)}
    best, best_overlap = "", 1
    for number, block in re.findall(r"\[(\d+)\][^\n]*\n(.*?)(?=\n\n\[\d+\]|\Z)", passages, re.S):
        for sentence in re.split(r"(?<=[.!?])\s+", block.strip()):
            overlap = len(asked & {w.casefold() for w in _WORD.findall(sentence)})
            if overlap > best_overlap:
                best, best_overlap = f"{sentence} [{number}]", overlap
    return best or "NOT_FOUND"
