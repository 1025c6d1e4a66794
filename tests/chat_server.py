"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions API.

It answers each chat request with the next scripted answer (a plan dict, or raw text) and keeps
every request it received, so tests can check what tracer sent: messages, the screenshot, the
API key. Status codes can be scripted too, to test errors and retries.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def request_text(body: dict[str, Any]) -> str:
    """All the text of a request's messages, joined."""
    parts = []
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p["text"] for p in content if p.get("type") == "text")
    return "\n".join(parts)


@dataclass
class Reply:
    """An answer with what real servers add: reasoning apart (llama-server's
    ``reasoning_content``, vLLM's and Ollama's ``reasoning``) and why it ended."""

    content: str
    fields: dict[str, Any] = field(default_factory=dict)  # extra fields of the message
    finish_reason: str = "stop"


class ChatServer:
    def __init__(self, models: tuple[str, ...] = ("test-vlm",)) -> None:
        self.models = list(models)
        self.answers: list[Any] = []  # str (raw text), dict (plan), or ("status", code, message)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.api_key: str | None = None  # when set, other keys get 401
        self.responder: Any = None  # when set: request body -> answer, instead of the queue
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def queue(self, *answers: Any) -> None:
        with self._lock:
            self.answers.extend(answers)

    def _next(self) -> Any:
        with self._lock:
            if not self.answers:
                return ("status", 500, "the test server has no more answers")
            return self.answers.pop(0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, code: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _authorised(self) -> bool:
                if server.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._send(401, {"error": {"message": "Incorrect API key provided",
                                           "type": "invalid_request_error"}})
                return False

            def do_GET(self) -> None:  # noqa: N802
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "owned_by": "test"} for m in server.models]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802
                if not self._authorised():
                    return
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                if body.get("model") not in server.models:
                    self._send(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
                    return
                answer = server.responder(body) if server.responder else server._next()
                if isinstance(answer, tuple) and answer[0] == "status":
                    self._send(answer[1], {"error": {"message": answer[2]}})
                    return
                reply = answer if isinstance(answer, Reply) else Reply(
                    answer if isinstance(answer, str) else json.dumps(answer))
                text = reply.content
                self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                                 "message": {"role": "assistant", "content": text,
                                             **reply.fields}}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": len(text) // 4,
                              "total_tokens": 100 + len(text) // 4},
                })

        return Handler
