"""The ``llama`` backend: a GGUF vision-language model on this machine, through llama-cpp-python.

The language model and its vision projector (mmproj) are loaded once and kept for the whole run.
Between calls the unchanged start of the prompt (system prompt, task, earlier history) stays in
the KV cache and is not evaluated again; only what follows (new history, the new screenshot) is.
Optionally the answer is constrained by a grammar made from the plan's JSON schema.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli.backends import BACKENDS, Completion
from tracer_cli.errors import BackendError, ConfigError
from tracer_cli.models import ModelError, check_gguf, require_installed, resolve

if TYPE_CHECKING:
    from tracer_cli.config import Settings

_QUIET: list[Any] = []  # keeps the no-op log callbacks alive while llama.cpp holds them


def _silence_llama_cpp() -> None:
    """llama.cpp and mtmd log to stderr even with verbose off; route both to a no-op."""
    if _QUIET:
        return
    import llama_cpp
    import llama_cpp.mtmd_cpp as mtmd_cpp

    @llama_cpp.llama_log_callback
    def _noop(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        return None

    llama_cpp.llama_log_set(_noop, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_helper_log_set(_noop, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_log_set(_noop, ctypes.c_void_p(0))
    _QUIET.append(_noop)


def gpu_layers(value: str) -> int:
    """--gpu-layers: a number, "all" (-1), or "auto" (all when this build can offload)."""
    if value == "all":
        return -1
    if value == "auto":
        import llama_cpp

        return -1 if llama_cpp.llama_supports_gpu_offload() else 0
    try:
        n = int(value)
    except ValueError:
        raise ConfigError(f"--gpu-layers {value!r} is not a number", "use a number, all or auto") from None
    if n < -1:
        raise ConfigError(f"--gpu-layers {n} is negative", "use a number, all or auto")
    return n


MAX_GRAMMAR_LENGTH = 1000


def grammar_schema(schema: Any) -> Any:
    """The plan schema as a grammar should see it; parse_plan still validates every answer.

    - String lengths are capped: llama.cpp refuses repetitions beyond its sane limits
      (maxLength 2000 crashed llama-cpp-python 0.3.36).
    - Each step's properties come in the order the prompt teaches, action first, all required:
      the converter puts required properties first, and a grammar that wants "target" before
      "action" turns a model's {"action": "click", ...} into some other action. Coordinates
      are required too (with a grammar the planner places its clicks itself)."""
    if isinstance(schema, dict):
        out = {k: grammar_schema(v) for k, v in schema.items()}
        if isinstance(out.get("maxLength"), int):
            out["maxLength"] = min(out["maxLength"], MAX_GRAMMAR_LENGTH)
        props = out.get("properties")
        if isinstance(props, dict) and "action" in props:
            ordered = {"action": props["action"], **{k: v for k, v in props.items() if k != "action"}}
            for key in ("x", "y"):
                if key in ordered and "anyOf" in ordered[key]:
                    ordered[key] = next(o for o in ordered[key]["anyOf"] if o.get("type") == "integer")
            out["properties"] = ordered
            optional = {k for k, v in ordered.items() if "default" in v and k not in ("x", "y")}
            out["required"] = [k for k in ordered if k not in optional]
        return out
    if isinstance(schema, list):
        return [grammar_schema(v) for v in schema]
    return schema


def default_threads() -> int:
    """llama-cpp-python's default is half the logical CPUs (one thread on two cores); use them
    all on small machines, half (about the physical cores) on larger ones."""
    n = os.cpu_count() or 1
    return n if n <= 4 else n // 2


def _prefix_llama_class() -> type:
    """A Llama that keeps the KV cache of the prompt's unchanged start between chat calls.

    llama-cpp-python's multimodal handler resets the model and clears the cache before every
    prompt, then evaluates it chunk by chunk (text with ``eval``, images through mtmd). Here the
    reset remembers what the cache holds, the clear is skipped, and ``eval`` skips the leading
    tokens of the first text chunks that equal what is cached at the same positions. Once an
    image has been evaluated or a token differs, everything is evaluated as usual (``eval``
    drops cached positions past the current one before it decodes).
    """
    from llama_cpp import Llama

    class PrefixCachingLlama(Llama):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._ctx.kv_cache_clear = lambda: None  # the handler's clear; eval trims instead
            self._cached: list[int] = []
            self._matching = False
            self._last_end = 0
            self.reused_tokens = 0
            self.evaluated_tokens = 0
            self._prompting = False

        def create_completion(self, *args: Any, **kwargs: Any) -> Any:
            self._prompting = False  # the handler has evaluated the prompt: decoding starts
            return super().create_completion(*args, **kwargs)

        def reset(self) -> None:
            self._cached = self.input_ids[: self.n_tokens].tolist()
            self._prompting = True
            self._matching = True
            self._last_end = 0
            self.reused_tokens = 0
            self.evaluated_tokens = 0
            super().reset()

        def eval(self, tokens: Any) -> None:
            tokens = list(tokens)
            if self._matching and self.n_tokens == self._last_end:
                start, count = self.n_tokens, len(tokens)
                same = 0
                for a, b in zip(tokens, self._cached[start:start + count], strict=False):
                    if a != b:
                        break
                    same += 1
                self._matching = same == count  # the whole chunk is what the cache holds
                skip = min(same, count - 1)  # decode at least one token: it yields the logits
                if skip > 0:
                    self.input_ids[start:start + skip] = tokens[:skip]
                    self.n_tokens += skip
                    self.reused_tokens += skip
                    tokens = tokens[skip:]
            else:
                self._matching = False  # an image was evaluated in between: positions moved on
            if self._prompting:
                self.evaluated_tokens += len(tokens)
            super().eval(tokens)
            self._last_end = self.n_tokens

    return PrefixCachingLlama


def template_opens_reasoning(llm: Any) -> bool:
    """Whether the model's chat template ends the prompt inside an open ``<think>`` block (then
    the answer holds only ``</think>``, and an answer without it is all reasoning)."""
    template = llm.metadata.get("tokenizer.chat_template") or ""
    if "<think>" not in template:
        return False
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    try:
        prompt = ImmutableSandboxedEnvironment().from_string(template).render(
            messages=[{"role": "user", "content": "hi"}], add_generation_prompt=True,
            bos_token="", eos_token="")
    except Exception:  # noqa: BLE001 - a template we cannot render: judge by the answers alone
        return False
    return prompt.rstrip().endswith("<think>")


class LlamaBackend:
    name = "llama"

    def __init__(self, settings: Settings) -> None:
        spec = resolve(settings.model, settings.mmproj)
        model_path, mmproj_path = require_installed(spec)
        for path in (model_path, mmproj_path):
            check_gguf(path)
        self.spec = spec
        self.grammar = settings.grammar
        self._temperature = settings.temperature
        self.max_tokens = settings.max_tokens
        debug = bool(os.environ.get("TRACER_DEBUG"))
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ConfigError("the llama backend needs llama-cpp-python",
                              "pip install llama-cpp-python (see the README for GPU builds)") from None
        from llama_cpp.llama_chat_format import MTMDChatHandler

        if not debug:
            _silence_llama_cpp()
        layers = gpu_layers(settings.gpu_layers)
        try:
            handler = MTMDChatHandler(clip_model_path=str(mmproj_path), verbose=debug,
                                      use_gpu=layers != 0)
            self.llm = _prefix_llama_class()(
                model_path=str(model_path), chat_handler=handler,
                n_ctx=settings.context or spec.context, n_batch=512, n_ubatch=512,
                n_threads=settings.threads or default_threads(),
                n_threads_batch=settings.threads or default_threads(), n_gpu_layers=layers,
                flash_attn=settings.flash_attn, verbose=debug)
            handler._init_mtmd_context(self.llm)  # load the projector now, not at the first call
            self.opens_reasoning = spec.thinking or template_opens_reasoning(self.llm)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {Path(model_path).name} with "
                             f"{Path(mmproj_path).name}: {exc}",
                             "check that the mmproj belongs to the model; re-download if corrupt"
                             ) from None

    def complete(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None = None) -> Completion:
        extra: dict[str, Any] = {}
        if schema is not None and self.grammar:
            extra["response_format"] = {"type": "json_object", "schema": grammar_schema(schema)}
        try:
            response = self.llm.create_chat_completion(
                messages=messages, temperature=self._temperature, max_tokens=self.max_tokens,
                **extra)
        except ValueError as exc:  # e.g. "Prompt exceeds n_ctx"
            raise BackendError(f"llama.cpp refused the request: {exc}",
                               "raise --context, or lower --max-pixels") from None
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Completion(choice["message"]["content"] or "", usage.get("prompt_tokens", 0),
                          usage.get("completion_tokens", 0),
                          reused_tokens=self.llm.reused_tokens,
                          evaluated_tokens=self.llm.evaluated_tokens,
                          finish_reason=choice.get("finish_reason") or "",
                          opened_reasoning=self.opens_reasoning, max_tokens=self.max_tokens)

    def close(self) -> None:
        self.llm.close()


@BACKENDS.register("llama")
def _create(settings: Settings) -> LlamaBackend:
    return LlamaBackend(settings)
