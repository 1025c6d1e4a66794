"""The ``openai`` backend: any server that speaks the OpenAI chat-completions API.

vLLM, SGLang, llama-server, Ollama, LM Studio or a hosted API. The API key comes from
``TRACER_API_KEY`` or ``OPENAI_API_KEY``; local servers usually need none.

The answer is streamed (``stream=True``, with usage asked for in the last chunk), so that a
server that died or hangs is told from a slow model: the wait for the first token is bounded by
``request_timeout`` (a CPU server can honestly take minutes on a big screenshot), and once the
answer started, a server that sends nothing for ``stall_timeout`` seconds has stopped. A slow
answer that keeps coming is never cut off. Every wait also ends with the run (its ``--timeout``,
the kill hotkey, Ctrl-C): see ``bounds``. A server that ignores ``stream`` and sends the whole
answer as JSON is read as well.

Retries: only what a retry can fix (connection refused, 429 with Retry-After, 5xx), within the
run's remaining time; never a timeout or a stall, which would only multiply the wait.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time
from typing import TYPE_CHECKING, Any

from tracer_cli.agent.backends import BACKENDS, Completion, bounds
from tracer_cli.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracer_cli.config import Settings

REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")
SHOWN = 120  # characters of a body that is not a chat completion, shown in the error
BACKOFF = 1.0  # seconds before the first retry; doubled for each next one


class _Retryable(BackendError):
    """A failure that a retry can fix; ``after``: the server's Retry-After, in seconds."""

    def __init__(self, message: str, hint: str = "", after: float | None = None) -> None:
        super().__init__(message, hint)
        self.after = after


class OpenAIBackend:
    name = "openai"
    streams = True  # on_text hears the answer as its pieces come

    def __init__(self, settings: Settings) -> None:
        import openai

        self._openai = openai
        self.base_url = settings.base_url
        self.request_timeout = settings.request_timeout
        self.stall_timeout = settings.stall_timeout
        self.retries = settings.request_retries
        # The client never retries by itself (it would retry timeouts); each read of the socket
        # may wait as long as the longest wait the watch allows, so a call given up still ends.
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=max(settings.request_timeout, settings.stall_timeout) + 5,
            max_retries=0,
        )
        self._temperature = settings.temperature
        self.max_tokens = settings.max_tokens
        self._grammar = settings.grammar
        self.where = f"the model server at {self.base_url}"
        self.model = settings.model or self._only_model()

    # -- errors ---------------------------------------------------------------------------------

    def _status_error(self, exc: Any) -> BackendError:
        """An HTTP error status, as one line with the fix; 429 and 5xx may be retried."""
        o, code = self._openai, exc.status_code
        if isinstance(exc, o.AuthenticationError):
            return ConfigError(f"{self.where} refused the API key",
                               "set TRACER_API_KEY (or OPENAI_API_KEY) to a valid key")
        if isinstance(exc, o.NotFoundError):
            return ConfigError(f"the server at {self.base_url} answered 404: {_message(exc)}",
                               "check --model and that --base-url ends in /v1")
        message = f"the model server answered {code}: {_message(exc)}"
        after = _retry_after(getattr(exc, "response", None))
        if code == 429 and after is not None:
            return _Retryable(message, after=after)
        if code >= 500:  # a proxy's 502, a server loading or restarting
            return _Retryable(message, after=after)
        return BackendError(message)

    def _connection_error(self, exc: Any) -> BackendError:
        """A connection that failed before any answer: refused (retried) or cut."""
        if isinstance(exc, self._openai.APITimeoutError):
            return BackendError(f"{self.where} did not answer in time",
                                "raise --request-timeout, or check the server")
        if _refused(exc):
            return _Retryable(f"cannot reach {self.where}", "start the server, or fix --base-url")
        return BackendError(f"the connection to {self.where} broke before it answered "
                            f"({_cause(exc)})", "check the server's log")

    def _only_model(self) -> str:
        try:
            page = self._client.models.list()
            ids = [m.id for m in page.data]
        except self._openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except self._openai.APIConnectionError as exc:
            raise self._connection_error(exc) from None
        except (AttributeError, TypeError, ValueError):  # HTML, broken JSON, another API
            raise BackendError(f"the server at {self.base_url} answered /models with something "
                               "that is not a model list", _NOT_THE_API) from None
        if len(ids) == 1:
            return str(ids[0])
        if not ids:
            raise ConfigError(f"the server at {self.base_url} lists no models",
                              "load a model into the server, or pass --model")
        raise ConfigError(f"the server at {self.base_url} serves {len(ids)} models",
                          f"choose one with --model: {', '.join(ids[:10])}")

    # -- one chat call --------------------------------------------------------------------------

    def complete(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None = None,
                 on_text: Callable[[str], None] | None = None) -> Completion:
        """The model's answer, streamed; ``on_text`` hears the answer so far as it grows (on
        this thread), so a caller may act on its start while the rest still comes."""
        request: dict[str, Any] = {
            "model": self.model, "messages": messages, "temperature": self._temperature,
            "max_tokens": self.max_tokens, "stream": True,
            "stream_options": {"include_usage": True}}
        if schema is not None and self._grammar:  # structured output, where the server has it
            request["response_format"] = {"type": "json_schema",
                                          "json_schema": {"name": "plan", "schema": schema}}
        limits = bounds.current()
        for retry in range(self.retries + 1):
            try:
                return self._once(request, limits, on_text)
            except _Retryable as exc:
                wait = exc.after if exc.after is not None else BACKOFF * 2 ** retry
                if retry == self.retries or wait >= limits.remaining():
                    raise BackendError(exc.message, exc.hint) from None
                limits.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, request: dict[str, Any], limits: bounds.Limits,
              on_text: Callable[[str], None] | None) -> Completion:
        opened: list[Any] = []  # the streaming response, once its headers came

        def abandon() -> None:
            if opened:
                _cut(opened[0])

        first = min(self.request_timeout, max(0.0, limits.remaining()))
        return bounds.watch(lambda progress: self._read(request, progress, opened),
                            first=first, stall=self.stall_timeout, where=self.where,
                            abandon=abandon, on_text=on_text)

    def _read(self, request: dict[str, Any], progress: bounds.Progress,
              opened: list[Any]) -> Completion:
        """Send the request and read the answer (on the watch's worker thread)."""
        o = self._openai
        try:
            with self._client.chat.completions.with_streaming_response.create(**request) as response:
                opened.append(response.http_response)
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind == "text/event-stream":
                    return self._read_stream(response, progress)
                body = self._body(response)
                if kind.endswith("json") or body.lstrip().startswith("{"):
                    return self._read_whole(body, progress)
                raise BackendError(f"{self.where} answered with {_kind(kind, body)}, not a chat "
                                   f"completion: {_head(body)}", _NOT_THE_API)
        except o.APIStatusError as exc:
            raise self._status_error(exc) from None
        except o.APIConnectionError as exc:
            raise self._connection_error(exc) from None

    def _body(self, response: Any) -> str:
        try:
            return response.read().decode("utf-8", errors="replace")
        except Exception as exc:  # noqa: BLE001 - only the network runs in read()
            raise self._broke_off(exc) from None

    def _broke_off(self, exc: BaseException) -> BackendError:
        return BackendError(f"the connection to {self.where} broke off in the middle of its "
                            f"answer ({_cause(exc)})",
                            "check the server's log: it may have crashed or run out of memory")

    def _read_stream(self, response: Any, progress: bounds.Progress) -> Completion:
        """Server-sent events: one chunk per ``data:`` line, until ``[DONE]`` or the end."""
        text: list[str] = []
        reasoning: list[str] = []
        finish, usage, ended = "", None, False
        lines = response.iter_lines()
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - only the network runs in next()
                raise self._broke_off(exc) from None
            if not line.startswith("data:"):
                continue  # blank lines, comments (": ping"), event names
            data = line[5:].strip()
            if data == "[DONE]":
                ended = True
                break
            chunk = self._json(data, "a chunk of its streamed answer")
            if isinstance(chunk.get("error"), dict | str):
                raise BackendError(f"{self.where} reported an error mid-answer: "
                                   f"{_error_text(chunk['error'])}")
            usage = chunk.get("usage") or usage
            choices = chunk.get("choices") or []
            choice = choices[0] if isinstance(choices, list) and choices else {}
            choice = choice if isinstance(choice, dict) else {}
            delta = choice.get("delta")
            added, thought = "", ""
            if isinstance(delta, dict):
                if isinstance(delta.get("content"), str) and delta["content"]:
                    added = delta["content"]
                    text.append(added)
                thought = next((delta[f] for f in REASONING_FIELDS
                                if isinstance(delta.get(f), str) and delta[f]), "")
                if thought:
                    reasoning.append(thought)
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
            if added or thought or choice.get("finish_reason"):
                progress.advance(added, tokens=1 if added or thought else 0)
        if not ended and not finish:
            raise self._broke_off(EOFError("the stream ended before the answer did"))
        return self._completion("".join(text), "".join(reasoning), finish, usage)

    def _read_whole(self, body: str, progress: bounds.Progress) -> Completion:
        """A server that ignored ``stream``: the whole chat completion as one JSON object."""
        data = self._json(body, "its answer")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            if "choices" in data:
                raise BackendError(f"{self.where} answered without any choice")
            raise BackendError(f"{self.where} answered with JSON that is not a chat completion "
                               f"(keys: {', '.join(list(data)[:8]) or 'none'})", _NOT_THE_API)
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        content = message.get("content")
        text = content if isinstance(content, str) else ""
        progress.advance(text)
        reasoning = next((message[f] for f in REASONING_FIELDS
                          if isinstance(message.get(f), str) and message[f].strip()), "")
        return self._completion(text, reasoning, str(choice.get("finish_reason") or ""),
                                data.get("usage"))

    def _json(self, data: str, what: str) -> dict[str, Any]:
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise BackendError(f"{self.where} sent broken JSON as {what} ({exc}): "
                               f"{_head(data)}", _NOT_THE_API) from None
        if not isinstance(value, dict):
            raise BackendError(f"{self.where} sent {type(value).__name__} JSON as {what}, not "
                               f"an object: {_head(data)}", _NOT_THE_API)
        return value

    def _completion(self, text: str, reasoning: str, finish: str, usage: Any) -> Completion:
        usage = usage if isinstance(usage, dict) else {}

        def count(name: str) -> int:
            value = usage.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return Completion(text, count("prompt_tokens"), count("completion_tokens"),
                          reasoning=reasoning if reasoning.strip() else "", finish_reason=finish,
                          max_tokens=self.max_tokens)

    def close(self) -> None:
        self._client.close()


_NOT_THE_API = ("check that --base-url is the server's OpenAI-compatible API, ending in /v1 "
                "(e.g. http://127.0.0.1:8080/v1), not a web page or another API")


def _kind(content_type: str, body: str) -> str:
    if content_type == "text/html" or body.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        return "an HTML page"
    return f"{content_type} content" if content_type else "content of no declared type"


def _head(text: str) -> str:
    """The start of a body, on one line, for a message."""
    flat = " ".join(text.split())
    return repr(flat[:SHOWN] + ("..." if len(flat) > SHOWN else ""))


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error)[:300]


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _refused(exc: BaseException) -> bool:
    """Whether nothing listens there (a retry may find the server started): the connection was
    refused, not cut."""
    return any(isinstance(e, ConnectionRefusedError) or type(e).__name__ == "ConnectError"
               for e in _chain(exc))


def _cause(exc: BaseException) -> str:
    """The deepest cause of a network error, in a few words."""
    inner = _chain(exc)[-1]
    text = str(inner).strip() or type(inner).__name__
    return text[:200]


def _retry_after(response: Any) -> float | None:
    """Seconds a server asked to wait (Retry-After: seconds or a date, or retry-after-ms)."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if seconds == seconds and seconds >= 0:  # not NaN
            return seconds
    return None


def _cut(http_response: Any) -> None:
    """Shut the socket of a response being read on another thread, so that its read returns
    now (closing it would not wake the read)."""
    stream = getattr(http_response, "extensions", {}).get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # closed already


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(getattr(exc, "message", exc))[:300]


@BACKENDS.register("openai")
def _create(settings: Settings) -> OpenAIBackend:
    return OpenAIBackend(settings)
