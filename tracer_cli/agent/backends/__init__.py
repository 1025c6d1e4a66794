"""Planner backends: where a chat request goes and its text comes back from.

A backend is built by a factory taking the Settings and has ``complete(messages, schema,
on_text) -> Completion``; ``on_text``, when given, hears the answer so far as it streams in (on
the caller's thread), so that a caller can act on its start while the rest still comes. A call
stays within the bounds of the run it belongs to (``bounds.current()``: its deadline and stop).
It registers itself with ``@BACKENDS.register("name")`` in a module of this package (found by
name, so adding a backend means adding a file) or elsewhere through the ``tracer.backends``
entry-point group.

While a call runs, its backend may tell the run how far it has got (``bounds.current().report``:
see ``CallProgress``); a backend that says nothing works as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tracer_cli.registry import Registry

if TYPE_CHECKING:
    from tracer_cli.config import Settings


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens served from the cache (local backends)
    evaluated_tokens: int = 0  # text prompt tokens decoded for this call (local backends)
    disk_tokens: int = 0  # prompt tokens loaded from the prefix cache on disk (llama)
    reasoning: str = ""  # reasoning the server returned apart from the answer
    finish_reason: str = ""  # "length": the answer hit max_tokens
    opened_reasoning: bool = False  # the prompt ended inside an open <think> block
    max_tokens: int = 0  # the limit this answer was given


@dataclass(frozen=True)
class CallProgress:
    """How far a model call has got, as its backend tells while the call runs."""

    # "waiting": for a server's first token (it reads the prompt meanwhile); "prompt": the local
    # model reads the prompt; "image": its vision encoder runs on a screenshot; "answering"
    stage: str
    # Tokens so far: of the prompt read (images' included), or of the answer (the pieces of
    # text streamed so far: about a token each).
    done: int = 0
    total: int = 0  # the prompt's tokens in all (0: not known)

    def describe(self) -> str:
        """A few words for the panel: ``answering: 57 tokens``."""
        if self.stage == "waiting":
            return "waiting for the first token"
        if self.stage == "image":
            return "encoding the screenshot"
        if self.stage == "prompt":
            return f"reading the prompt {self.done:,}/{self.total:,}" if self.total else \
                "reading the prompt"
        if self.stage == "answering" and self.done:
            return f"answering: {self.done:,} token" + ("" if self.done == 1 else "s")
        return self.stage


class Backend(Protocol):
    name: str

    def complete(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None = None,
                 on_text: Callable[[str], None] | None = None) -> Completion:
        """Answer a chat. ``schema``: the JSON schema the answer must match, for backends that
        can constrain decoding with it (when the user asked for a grammar); ``on_text``: called
        with the answer so far as it grows."""

    def close(self) -> None: ...


BACKENDS: Registry[Callable[[Settings], Backend]] = Registry(
    "backend", __name__, "tracer.backends")


def create(name: str, settings: Settings) -> Backend:
    return BACKENDS.get(name)(settings)
