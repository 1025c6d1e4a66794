"""The ``llama`` backend: a GGUF vision-language model on this machine, through llama-cpp-python.

The language model and its vision projector (mmproj) are loaded once and kept for the whole run.
Between calls the unchanged start of the prompt (system prompt, task, earlier history) stays in
the KV cache and is not evaluated again; only what follows (new history, the new screenshot) is.
Optionally the answer is constrained by a grammar made from the plan's JSON schema.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli.agent.backends import BACKENDS, Completion, bounds, cpu_probe
from tracer_cli.errors import BackendError, ConfigError, StorageError
from tracer_cli.models import ModelError, check_gguf, require_installed, resolve

if TYPE_CHECKING:
    from tracer_cli.agent.backends.prefix_store import PrefixStore
    from tracer_cli.config import Settings

MIN_PREFIX = 32  # tokens: a shorter instruction part is not worth a file

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
    """A Llama that keeps the KV cache of the prompt's unchanged start between chat calls,
    screenshots included.

    llama-cpp-python's multimodal handler resets the model and clears the cache before every
    prompt, then evaluates it chunk by chunk (text with ``eval``, images through mtmd). Here the
    reset remembers what the cache holds (text tokens, and which image sits at which position),
    the clear is skipped, and while the prompt equals the cache from its start, text tokens and
    whole images (the same picture, by hash, at the same position) are not evaluated again. From
    the first difference on, everything is evaluated as usual, after the cache is cut there. A
    chunk that was wholly cached owes the decode of its last token, done only if the prompt ends
    there (sampling needs its logits).

    While it reads a prompt, it tells ``on_progress`` (stage, done, total) how far it got: the
    prompt's tokens read so far (from the cache or evaluated, one batch at a time; an image's
    tokens at once) of all of them, and "image" while the vision encoder runs.

    Across runs (``prefix_store``): the first prompt of a run finds its instruction part (the
    system message: the text before its first ``<|im_end|>``, else all the text before the
    first image) on disk when an earlier run with the same model, settings and tokens kept it,
    and loads it instead of evaluating it; otherwise it evaluates it and keeps it there (see
    prefix_store). Only the first text chunk of a run's first prompt is looked up: later
    prompts find it in the KV cache anyway.
    """
    from llama_cpp import Llama

    class PrefixCachingLlama(Llama):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._ctx.kv_cache_clear = lambda: None  # the handler's clear; eval trims instead
            self._cached: list[int] = []
            self._images: dict[int, tuple[bytes, int]] = {}  # start position -> (id, positions)
            self._cached_images: dict[int, tuple[bytes, int]] = {}
            self._matching = False
            self._last_end = 0
            self._owed: int | None = None
            self.reused_tokens = 0
            self.evaluated_tokens = 0
            self.reused_images = 0
            self.reuse_images = True  # off: images are evaluated every time (for measurements)
            self._prompting = False
            self.on_progress: Callable[[str, int, int], None] | None = None
            self.prompt_total = 0  # tokens of the prompt being read, images' included
            self.prompt_read = 0  # ... read so far
            self.prefix_store: PrefixStore | None = None  # the prefix cache across runs
            self.prefix_identity = ""  # what besides its tokens makes a prefix's KV cache
            self.disk_tokens = 0  # prompt tokens loaded from the prefix cache by this call
            self.prefix_saved = 0  # ... written to it

        def tell(self, stage: str, read: int = 0) -> None:
            """Say how far the prompt is read (``read`` more tokens of it were), or what runs."""
            self.prompt_read += read
            if self.on_progress is not None:
                self.on_progress(stage, self.prompt_read, self.prompt_total)

        def create_completion(self, *args: Any, **kwargs: Any) -> Any:
            if self._owed is not None:  # the prompt ended on a cached chunk: refresh the logits
                self.n_tokens -= 1
                Llama.eval(self, [self._owed])
                self._owed = None
            # The handler has evaluated the prompt: decoding starts. The answer's tokens are
            # decoded whatever the cache held after the prompt last time (the same prompt again
            # would otherwise take the last answer's tokens as read, without their logits).
            self._prompting = self._matching = False
            return super().create_completion(*args, **kwargs)

        def reset(self) -> None:
            self._cached = self.input_ids[: self.n_tokens].tolist()
            self._cached_images, self._images = self._images, {}
            self._prompting = True
            self._matching = True
            self._last_end = 0
            self._owed = None
            self.reused_tokens = 0
            self.evaluated_tokens = 0
            self.reused_images = 0
            self.prompt_read = 0
            self.disk_tokens = self.prefix_saved = 0
            super().reset()

        def eval(self, tokens: Any) -> None:
            tokens = list(tokens)
            self._owed = None
            if (self._prompting and self.n_tokens == 0 and not self._cached
                    and self.prefix_store is not None):
                tokens = self._instructions(tokens)
                if not tokens:
                    self._owed, self._last_end = self.input_ids[self.n_tokens - 1], self.n_tokens
                    return
            if self._matching and self.n_tokens == self._last_end:
                start, count = self.n_tokens, len(tokens)
                same = 0
                for a, b in zip(tokens, self._cached[start:start + count], strict=False):
                    if a != b:
                        break
                    same += 1
                self._matching = same == count  # the whole chunk is what the cache holds
                if same > 0:
                    self.input_ids[start:start + same] = tokens[:same]
                    self.n_tokens += same
                    self.reused_tokens += same
                    tokens = tokens[same:]
                    if self._prompting:
                        self.tell("prompt", same)
                if not tokens:
                    self._owed, self._last_end = self.input_ids[self.n_tokens - 1], self.n_tokens
                    return
            else:
                self._matching = False  # an image was evaluated in between: positions moved on
            if not self._prompting:
                super().eval(tokens)
            else:  # the batches Llama.eval would make, one at a time, to tell of each
                self.evaluated_tokens += len(tokens)
                for i in range(0, len(tokens), self.n_batch):
                    batch = tokens[i:i + self.n_batch]
                    super().eval(batch)
                    self.tell("prompt", len(batch))
            self._last_end = self.n_tokens

        def _instructions(self, tokens: list[int]) -> list[int]:
            """Load the instruction part of a run's first prompt from the prefix cache, or
            evaluate and keep it there; returns the tokens left to evaluate."""
            from tracer_cli.agent.backends.prefix_store import key

            assert self.prefix_store is not None
            end = self._instruction_end(tokens)
            if end < MIN_PREFIX:
                return tokens
            head = tokens[:end]
            name = key(self.prefix_identity, head)
            self._ctx.kv_cache_seq_rm(-1, 0, -1)  # a fresh run's cache: nothing else in it
            state = self.prefix_store.load(name, head)
            if state is not None and self._set_state(state):
                self.input_ids[:end] = head
                self.n_tokens = self._last_end = end
                self.reused_tokens += end
                self.disk_tokens = end
                self.tell("prompt", end)
                self._matching = False
                return tokens[end:]
            if state is not None:  # llama.cpp refused it (another build's format): write anew
                self.prefix_store.discard(name)
            self.evaluated_tokens += end
            for i in range(0, end, self.n_batch):
                batch = head[i:i + self.n_batch]
                Llama.eval(self, batch)
                self.tell("prompt", len(batch))
            self._last_end = self.n_tokens
            self._matching = False
            self._keep(name, head)
            return tokens[end:]

        def _instruction_end(self, tokens: list[int]) -> int:
            """Where the instruction part ends: after the first ``<|im_end|>`` (the system
            message, the same whatever the task), else at the end of the text chunk."""
            marks = self.tokenize(b"<|im_end|>", add_bos=False, special=True)
            if len(marks) == 1 and marks[0] in tokens:
                return tokens.index(marks[0]) + 1
            return len(tokens)

        def _set_state(self, state: bytes) -> bool:
            import llama_cpp

            buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
            if llama_cpp.llama_state_seq_set_data(self._ctx.ctx, buffer, len(state), 0) == 0:
                self._ctx.kv_cache_seq_rm(-1, 0, -1)
                return False
            return True

        def _keep(self, name: str, head: list[int]) -> None:
            """Write the KV cache of ``head`` (all the cache holds now) to the prefix cache; a
            cache that cannot be written costs the next run the evaluation, nothing more."""
            import llama_cpp

            assert self.prefix_store is not None
            size = llama_cpp.llama_state_seq_get_size(self._ctx.ctx, 0)
            buffer = (ctypes.c_uint8 * size)()
            written = llama_cpp.llama_state_seq_get_data(self._ctx.ctx, buffer, size, 0)
            if not written:
                return
            try:
                self.prefix_store.save(name, head, bytes(buffer)[:written])
                self.prefix_saved = len(head)
            except StorageError:
                return

        def image_cached(self, image_id: bytes | None, n_pos: int, n_tokens: int) -> bool:
            """Whether the image about to be evaluated at the current position is already in
            the cache there (then it is skipped); if not, the cache is cut here."""
            start, self._owed = self.n_tokens, None
            entry = (image_id or b"", n_pos)
            if (self.reuse_images and image_id and self._matching and start == self._last_end
                    and self._cached_images.get(start) == entry):
                self._images[start] = entry
                self._last_end = start + n_pos
                self.reused_tokens += n_tokens
                self.reused_images += 1
                return True
            self._matching = False
            self._ctx.kv_cache_seq_rm(-1, start, -1)  # what the last prompt had from here on
            self._images[start] = entry
            return False

    return PrefixCachingLlama


class _ImageCachingMtmd:
    """The handler's view of llama_cpp.mtmd_cpp, with image evaluation asking the model's cache
    first: an image already in the KV cache at its position is skipped (its positions are
    counted, nothing is decoded); an image seen before at another position is decoded from its
    kept vision-encoder output (the encoder, most of a step's time on a CPU, does not run)."""

    # Encoder outputs kept: UI-TARS's window of 4 earlier screenshots and the current one. Each
    # costs image tokens x the model's input width x 4 bytes (about 36 MB for a 2B Qwen3-VL at
    # 1,100 tokens, 70 MB for an 8B): the price of not running the encoder again (~60 s on a CPU).
    KEEP = 5

    def __init__(self, module: Any, llm: Any) -> None:
        self._module = module
        self._llm = llm
        self._encoded: dict[bytes, Any] = {}  # image id -> its embeddings (oldest first)
        self.encoded_images = 0  # vision-encoder passes (for measurements)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def mtmd_tokenize(self, ctx: Any, chunks: Any, text: Any, bitmaps: Any, n_bitmaps: int) -> int:
        """The handler's tokenizing of the prompt: how many tokens it holds, to tell how far
        it is read."""
        result = self._module.mtmd_tokenize(ctx, chunks, text, bitmaps, n_bitmaps)
        if result == 0:
            self._llm.prompt_total = self._module.mtmd_helper_get_n_tokens(chunks)
        return result

    def mtmd_helper_eval_chunk_single(self, ctx: Any, lctx: Any, chunk: Any, n_past: Any,
                                      seq_id: Any, n_batch: int, logits_last: bool,
                                      new_n_past: Any) -> int:
        m = self._module
        n_pos = m.mtmd_input_chunk_get_n_pos(chunk)
        image_id = m.mtmd_input_chunk_get_id(chunk)
        n_tokens = m.mtmd_input_chunk_get_n_tokens(chunk)
        if self._llm.image_cached(image_id, n_pos, n_tokens):
            new_n_past._obj.value = n_past.value + n_pos
            self._llm.tell("prompt", n_tokens)
            return 0
        if not image_id or m.mtmd_input_chunk_get_type(chunk) != m.MTMD_INPUT_CHUNK_TYPE_IMAGE:
            self._llm.tell("image")  # encoded and decoded in one call
            result = m.mtmd_helper_eval_chunk_single(ctx, lctx, chunk, n_past, seq_id, n_batch,
                                                     logits_last, new_n_past)
            self._llm.tell("prompt", n_tokens)
            return result
        embeddings = self._encoded.pop(image_id, None)
        if embeddings is None:
            self._llm.tell("image")
            result = m.mtmd_encode_chunk(ctx, chunk)
            if result != 0:
                return result
            self.encoded_images += 1
            import llama_cpp

            size = n_tokens * llama_cpp.llama_model_n_embd_inp(self._llm.model)
            embeddings = (ctypes.c_float * size)()
            ctypes.memmove(embeddings, m.mtmd_get_output_embd(ctx), size * ctypes.sizeof(ctypes.c_float))
        self._encoded[image_id] = embeddings  # now the most recent
        while len(self._encoded) > self.KEEP:
            del self._encoded[next(iter(self._encoded))]
        self._llm.tell("prompt")  # the model reads the image's tokens: one call
        result = m.mtmd_helper_decode_image_chunk(ctx, lctx, chunk, embeddings, n_past, seq_id,
                                                  n_batch, new_n_past,
                                                  m.mtmd_helper_post_decode_callback(),
                                                  ctypes.c_void_p(0))
        self._llm.tell("prompt", n_tokens)
        return result


def _image_caching_handler(clip_model_path: str, verbose: bool, use_gpu: bool) -> Any:
    """MTMDChatHandler whose bitmaps carry a hash of their image as id (so a screenshot sent
    again is known again)."""
    import hashlib

    from llama_cpp.llama_chat_format import MTMDChatHandler

    class ImageCachingHandler(MTMDChatHandler):  # type: ignore[misc]
        def _create_bitmap_from_bytes(self, image_bytes: bytes) -> Any:
            bitmap = super()._create_bitmap_from_bytes(image_bytes)
            self._mtmd_cpp.mtmd_bitmap_set_id(bitmap, hashlib.sha256(image_bytes).hexdigest().encode())
            return bitmap

    return ImageCachingHandler(clip_model_path=clip_model_path, verbose=verbose, use_gpu=use_gpu)


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


def projector_factor(mmproj: Path) -> int | None:
    """The image tile a vision projector works in (patch size x spatial merge size), read from
    its GGUF metadata; None when the file does not say. llama.cpp resizes (and pads) every
    image to multiples of it."""
    from gguf import GGUFReader

    try:
        fields = GGUFReader(str(mmproj)).fields
    except (OSError, ValueError):
        return None

    def value(key: str) -> Any:
        field = fields.get(key)
        return field.contents() if field is not None else None

    patch = value("clip.vision.patch_size")
    if not isinstance(patch, int):
        return None
    merge = value("clip.vision.spatial_merge_size")
    return patch * (merge if isinstance(merge, int) and merge > 0 else 2)


@contextmanager
def _model_params(**fields: Any) -> Iterator[None]:
    """llama-cpp-python's Llama takes no argument for some model parameters (use_extra_bufts):
    set them on the defaults it starts from, while it loads."""
    import llama_cpp.llama_cpp as bindings

    original = bindings.llama_model_default_params

    def defaults() -> Any:
        params = original()
        for name, value in fields.items():
            setattr(params, name, value)
        return params

    bindings.llama_model_default_params = defaults
    try:
        yield
    finally:
        bindings.llama_model_default_params = original


def load(model_path: Path, mmproj_path: Path, use_gpu: bool, verbose: bool,
         extra_buffers: bool = True, **params: Any) -> Any:
    """The model and its projector, loaded now (not at the first call), with the prompt-prefix
    and image cache of ``_prefix_llama_class``; ``extra_buffers`` off loads the weights without
    llama.cpp's AMX / repacked buffer types (see cpu_probe)."""
    handler = _image_caching_handler(str(mmproj_path), verbose, use_gpu)
    with _model_params(use_extra_bufts=extra_buffers):
        llm = _prefix_llama_class()(model_path=str(model_path), chat_handler=handler,
                                    verbose=verbose, **params)
    handler._init_mtmd_context(llm)
    handler._mtmd_cpp = _ImageCachingMtmd(handler._mtmd_cpp, llm)
    return llm


def prefix_cache(settings: Settings) -> PrefixStore | None:
    """The prefix cache across runs, in the cache folder (None when the setting prefix_cache_mb is 0)."""
    from tracer_cli.agent.backends.prefix_store import store_or_none
    from tracer_cli.paths import cache_dir

    return store_or_none(cache_dir() / "prefix", settings.prefix_cache_mb)


def prefix_identity(model_path: Path, **settings: Any) -> str:
    """What besides its tokens makes a prompt prefix's KV cache what it is: the model file (its
    path, size and time: a new download is another model), llama-cpp-python's version (its
    state format) and the settings that change the numbers or the layout."""
    import llama_cpp

    stat = Path(model_path).stat()
    fields = {"model": str(Path(model_path).resolve()), "size": stat.st_size,
              "mtime": stat.st_mtime_ns, "llama_cpp": llama_cpp.__version__, **settings}
    return json.dumps(fields, sort_keys=True)


class LlamaBackend:
    name = "llama"
    streams = True  # on_text hears the answer token by token

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
        if not debug:
            _silence_llama_cpp()
        layers = gpu_layers(settings.gpu_layers)
        self.cpu = cpu_probe.verdict()  # what llama.cpp's CPU kernels may use here
        try:
            self.llm = load(model_path, mmproj_path, use_gpu=layers != 0, verbose=debug,
                            extra_buffers=self.cpu.extra_buffers,
                            n_ctx=settings.context or spec.context, n_batch=512, n_ubatch=512,
                            n_threads=settings.threads or default_threads(),
                            n_threads_batch=settings.threads or default_threads(),
                            n_gpu_layers=layers, flash_attn=settings.flash_attn)
            self.llm.prefix_store = prefix_cache(settings)
            self.llm.prefix_identity = prefix_identity(
                model_path, n_ctx=settings.context or spec.context, gpu_layers=layers,
                flash_attn=settings.flash_attn, extra_buffers=self.cpu.extra_buffers)
            self.opens_reasoning = spec.thinking or template_opens_reasoning(self.llm)
            self.image_factor = projector_factor(mmproj_path)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"llama.cpp could not load {Path(model_path).name} with "
                             f"{Path(mmproj_path).name}: {exc}",
                             "check that the mmproj belongs to the model; re-download if corrupt"
                             ) from None

    def complete(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None = None,
                 on_text: Callable[[str], None] | None = None) -> Completion:
        """The answer, token by token: between two tokens the run's deadline and stop are
        checked (see bounds), ``on_text`` hears the answer so far, and the run hears how far
        the call got: reading the prompt, encoding a screenshot, answering. What runs in one C call
        cannot be cut short: the vision encoder's pass over a screenshot, and each 512-token
        batch of the prompt (a Ctrl-C there waits for its end; the deadline for the first
        token)."""
        limits = bounds.current()
        limits.check()
        extra: dict[str, Any] = {}
        if schema is not None and self.grammar:
            extra["response_format"] = {"type": "json_object", "schema": grammar_schema(schema)}
        text, finish, prompt_tokens, pieces = "", "", 0, 0
        self.llm.on_progress, self.llm.prompt_total = limits.report, 0
        limits.report("prompt")
        try:
            chunks = self.llm.create_chat_completion(
                messages=messages, temperature=self._temperature, max_tokens=self.max_tokens,
                stream=True, **extra)
            prompt_tokens = self.llm.n_tokens  # the handler has evaluated the prompt
            for chunk in chunks:
                limits.check("while the local model was answering")
                choice = chunk["choices"][0]
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece:
                    text, pieces = text + piece, pieces + 1
                    limits.report("answering", pieces)  # a piece a token (or a few, for UTF-8)
                    if on_text is not None:
                        on_text(text)
                finish = choice.get("finish_reason") or finish
        except ValueError as exc:  # e.g. "Prompt exceeds n_ctx"
            raise BackendError(f"llama.cpp refused the request: {exc}",
                               "raise --context, or lower --max-pixels") from None
        finally:
            self.llm.on_progress = None
        return Completion(text, prompt_tokens, max(0, self.llm.n_tokens - prompt_tokens),
                          reused_tokens=self.llm.reused_tokens, disk_tokens=self.llm.disk_tokens,
                          evaluated_tokens=self.llm.evaluated_tokens, finish_reason=finish,
                          opened_reasoning=self.opens_reasoning, max_tokens=self.max_tokens)

    def close(self) -> None:
        self.llm.close()


@BACKENDS.register("llama")
def _create(settings: Settings) -> LlamaBackend:
    return LlamaBackend(settings)
