"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions API.

It answers each chat request with the next scripted answer (a plan dict, or raw text) and keeps
every request it received, so tests can check what tracer sent: messages, the screenshot, the
API key. Status codes can be scripted too, to test errors and retries, and so can the ways real
servers fail: a body that is not a chat completion (``Raw``), no answer at all (``Hang``), an
answer that stops coming or whose connection is cut mid-way (``Reply.stall_after``,
``Reply.cut_after``), and an answer held mid-way until the test lets it go (``Reply.hold``).

A request with ``"stream": true`` is answered as real servers do: server-sent events over a
chunked response, the answer in pieces, reasoning in its own deltas, usage in a last chunk when
``stream_options.include_usage`` asks for it, then ``data: [DONE]``. ``streaming = False`` plays a
server that ignores ``stream`` and sends the whole completion as JSON.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
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
    # When streamed: seconds before the first piece and between two pieces, the piece size in
    # characters, and where it goes wrong: after that many pieces nothing more comes (the
    # connection stays open) or the connection is cut.
    first_delay: float = 0.0
    piece_delay: float = 0.0
    piece: int = 16
    stall_after: int | None = None
    cut_after: int | None = None
    # After ``hold_after`` pieces, the rest waits until ``hold`` is set (a test lets it go once
    # it saw what it waits for); ``held`` says whether it was still waiting when that happened.
    hold_after: int | None = None
    hold: threading.Event | None = None
    held: bool = False


@dataclass
class Raw:
    """A body sent as it is (an HTML page, broken JSON, ...), with its status and type; with
    ``cut``, the connection is cut after the body although more was announced."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200
    cut: bool = False


@dataclass
class Hang:
    """Accept the request and never answer (until the server stops)."""


class ChatServer:
    def __init__(self, models: tuple[str, ...] = ("test-vlm",)) -> None:
        self.models = list(models)
        self.answers: list[Any] = []  # str (raw text), dict (plan), or ("status", code, message)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.api_key: str | None = None  # when set, other keys get 401
        self.responder: Any = None  # when set: request body -> answer, instead of the queue
        self.streaming = True  # False: ignore "stream" and answer with one JSON object
        self.page: Raw | None = None  # when set: the answer to every request (a web UI, say)
        self._stopping = threading.Event()  # releases the requests that hang
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
        self._stopping.set()
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
            protocol_version = "HTTP/1.1"  # chunked streams, as real servers send them

            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None,
                      ) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def _raw(self, raw: Raw) -> None:
                self.send_response(raw.status)
                self.send_header("Content-Type", raw.content_type)
                self.send_header("Content-Length", str(len(raw.body) * (2 if raw.cut else 1)))
                self.end_headers()
                self.wfile.write(raw.body)
                if raw.cut:
                    self._cut()

            def _cut(self) -> None:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

            def _chunk(self, data: dict[str, Any] | str) -> None:
                line = data if isinstance(data, str) else json.dumps(data)
                raw = f"data: {line}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
                self.wfile.flush()

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0,
                        "model": body["model"]}

                def delta(**fields: Any) -> dict[str, Any]:
                    return {**base, "choices": [{"index": 0, "delta": fields,
                                                 "finish_reason": None}]}

                self._chunk(delta(role="assistant", content=""))
                pieces = [delta(**{name: value[i:i + reply.piece]})
                          for name, value in reply.fields.items() if isinstance(value, str)
                          for i in range(0, len(value), reply.piece)]
                pieces += [delta(content=reply.content[i:i + reply.piece])
                           for i in range(0, len(reply.content), reply.piece)]
                if server._stopping.wait(reply.first_delay):
                    return
                for n, piece in enumerate(pieces):
                    if n == reply.stall_after:
                        server._stopping.wait()
                        return
                    if n == reply.hold_after and reply.hold is not None:
                        reply.held = True
                        while not reply.hold.wait(0.05):
                            if server._stopping.is_set():
                                return
                        reply.held = False
                    if n == reply.cut_after:
                        self._cut()
                        return
                    if n and server._stopping.wait(reply.piece_delay):
                        return
                    self._chunk(piece)
                self._chunk({**base, "choices": [{"index": 0, "delta": {},
                                                  "finish_reason": reply.finish_reason}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    self._chunk({**base, "choices": [], "usage": _usage(reply.content)})
                self._chunk("[DONE]")
                self.wfile.write(b"0\r\n\r\n")

            def _authorised(self) -> bool:
                if server.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {server.api_key}":
                    return True
                self._send(401, {"error": {"message": "Incorrect API key provided",
                                           "type": "invalid_request_error"}})
                return False

            def do_GET(self) -> None:  # noqa: N802
                if server.page is not None:
                    self._raw(server.page)
                    return
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
                if server.page is not None:
                    self._raw(server.page)
                    return
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
                    self._send(answer[1], {"error": {"message": answer[2]}},
                               answer[3] if len(answer) > 3 else None)
                    return
                if isinstance(answer, Hang):
                    server._stopping.wait()
                    return
                if isinstance(answer, Raw):
                    self._raw(answer)
                    return
                reply = answer if isinstance(answer, Reply) else Reply(
                    answer if isinstance(answer, str) else json.dumps(answer))
                if body.get("stream") and server.streaming:
                    self._stream(body, reply)
                    return
                if server._stopping.wait(reply.first_delay):
                    return
                text = reply.content
                self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                                 "message": {"role": "assistant", "content": text,
                                             **reply.fields}}],
                    "usage": _usage(text),
                })

        return Handler


def _usage(text: str) -> dict[str, int]:
    return {"prompt_tokens": 100, "completion_tokens": len(text) // 4,
            "total_tokens": 100 + len(text) // 4}


class SilentModel:
    """A model server that takes the connection and never answers: a run that reached it has
    its hands (its switches armed) and waits. ``url`` is its base URL; a context manager."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def __enter__(self) -> SilentModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    @contextlib.contextmanager
    def reached(self) -> Iterator[None]:
        """Once a run has connected (waiting at most 30 s): the connection stays open inside."""
        conn, _ = self.sock.accept()
        try:
            yield
        finally:
            conn.close()
