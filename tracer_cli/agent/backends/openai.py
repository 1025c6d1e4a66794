"""The ``openai`` backend: any server that speaks the OpenAI chat-completions API.

vLLM, SGLang, llama-server, Ollama, LM Studio or a hosted API. The API key comes from
``TRACER_API_KEY`` or ``OPENAI_API_KEY``; local servers usually need none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracer_cli.agent.backends import BACKENDS, Completion
from tracer_cli.errors import BackendError, ConfigError

if TYPE_CHECKING:
    from tracer_cli.config import Settings


class OpenAIBackend:
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        import openai

        self._openai = openai
        self.base_url = settings.base_url
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=settings.request_timeout,
            max_retries=settings.request_retries,
        )
        self._temperature = settings.temperature
        self.max_tokens = settings.max_tokens
        self._grammar = settings.grammar
        self.model = settings.model or self._only_model()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one client call, turning the SDK's errors into ours (one line, with the fix)."""
        o = self._openai
        try:
            return fn(*args, **kwargs)
        except o.APITimeoutError:
            raise BackendError(f"the model server at {self.base_url} did not answer in time",
                               "raise --request-timeout, or use a smaller model") from None
        except o.APIConnectionError:
            raise BackendError(f"cannot reach the model server at {self.base_url}",
                               "start the server, or fix --base-url") from None
        except o.AuthenticationError:
            raise ConfigError(f"the model server at {self.base_url} refused the API key",
                              "set TRACER_API_KEY (or OPENAI_API_KEY) to a valid key") from None
        except o.NotFoundError as exc:
            raise ConfigError(f"the server at {self.base_url} answered 404: {_message(exc)}",
                              "check --model and that --base-url ends in /v1") from None
        except o.APIStatusError as exc:
            raise BackendError(f"the model server answered {exc.status_code}: {_message(exc)}") from None

    def _only_model(self) -> str:
        page = self._call(self._client.models.list)
        ids = [m.id for m in page.data]
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise ConfigError(f"the server at {self.base_url} lists no models",
                              "load a model into the server, or pass --model")
        raise ConfigError(f"the server at {self.base_url} serves {len(ids)} models",
                          f"choose one with --model: {', '.join(ids[:10])}")

    def complete(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None = None) -> Completion:
        extra: dict[str, Any] = {}
        if schema is not None and self._grammar:  # structured output, where the server has it
            extra["response_format"] = {"type": "json_schema",
                                        "json_schema": {"name": "plan", "schema": schema}}
        response = self._call(
            self._client.chat.completions.create,
            model=self.model,
            messages=messages,
            temperature=self._temperature,
            max_tokens=self.max_tokens,
            **extra,
        )
        if not response.choices:
            raise BackendError("the model server answered without any choice")
        choice = response.choices[0]
        usage = response.usage
        return Completion(choice.message.content or "", usage.prompt_tokens if usage else 0,
                          usage.completion_tokens if usage else 0,
                          reasoning=_reasoning(choice.message),
                          finish_reason=choice.finish_reason or "", max_tokens=self.max_tokens)

    def close(self) -> None:
        self._client.close()


def _reasoning(message: Any) -> str:
    """Reasoning a server returns apart from the answer: ``reasoning_content`` (llama-server,
    vLLM before 0.10, DeepSeek), ``reasoning`` (vLLM, Ollama, OpenRouter) or ``thinking``."""
    for name in ("reasoning_content", "reasoning", "thinking"):
        value = getattr(message, name, None)
        if value is None and isinstance(getattr(message, "model_extra", None), dict):
            value = message.model_extra.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


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
