"""The limits a macro is read within, and the YAML reader that enforces them as it composes.

A few kilobytes of YAML can stand for more data than any machine holds: an anchor repeated by
aliases, whose own content repeats another anchor, nine levels deep, is 10^18 steps (the
"billion laughs" shape). So the file is read with bounds that no real macro meets, each checked
before the data it guards exists, and each refused with the file, the line and the limit:

- ``MAX_FILE_BYTES``: the file's size, checked before it is read;
- ``MAX_NODES``: YAML nodes, every alias counted as the nodes it repeats, counted while
  composing (so aliases are never expanded to be counted);
- ``MAX_DEPTH``: nesting, aliases included (a chain of aliases nests as deep as it reaches);
- ``MAX_STEPS``: the steps a run executes once repeat and include are unrolled, counted by
  arithmetic on the loaded tree (load.py) before a single step is made.

Measured against real use: a 10,000-row data-entry repeat (the most ``in:`` takes) of mappings
with 8 keys is about 170,000 nodes, 2 MB and 8 levels deep; 10,000 rows of 10 steps are 100,000
steps, over a day of run time at a second a step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tracer_cli.errors import MacroError, cut

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 500_000
MAX_DEPTH = 64
MAX_STEPS = 100_000
LIMITS_HELP = "see 'Limits' in the README's macro section"
STEPS_HELP = "split the data over several runs; " + LIMITS_HELP


def check_size(path: Path, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise MacroError(f"{path}: the file is {size:,} bytes, over the limit of "
                         f"{MAX_FILE_BYTES:,} bytes for a macro", LIMITS_HELP)


class Budget:
    """What one load (a file and the files it includes) has used: YAML nodes, and the macros
    already loaded (an included file is read once however often it is included)."""

    def __init__(self) -> None:
        self.nodes = 0
        self.loaded: dict[Path, Any] = {}

    def count(self, nodes: int, path: Path, mark: Any) -> None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            raise MacroError(f"{path}:{mark.line + 1}: more than {MAX_NODES:,} YAML nodes "
                             "(an alias counts as every node it repeats)",
                             "split the data, or use fewer nested aliases; " + LIMITS_HELP)


def compose(text: str, path: Path, budget: Budget) -> tuple[Any, Any]:
    """The data of ``text`` and its YAML node tree (for line numbers), read within the limits.
    YAML errors are yaml's own (the caller words them)."""
    loader = _Loader(text, path, budget)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


# libyaml's parser when PyYAML has it (reading is 5 times faster), composed here, in Python,
# where the nodes can be counted; else PyYAML's own.
if yaml.__with_libyaml__:
    from yaml.cyaml import CParser as _Parser
else:  # pragma: no cover - PyYAML built without libyaml
    _Parser = yaml.parser.Parser


class _Loader(yaml.composer.Composer, _Parser, yaml.constructor.SafeConstructor,  # type: ignore[misc]
              yaml.resolver.Resolver):
    """The safe loader, counting every node it composes (an alias as the nodes it repeats) and
    how deep they nest, and refusing an alias inside its own anchor."""

    def __init__(self, text: str, path: Path, budget: Budget) -> None:
        if yaml.__with_libyaml__:
            _Parser.__init__(self, text)
        else:
            yaml.reader.Reader.__init__(self, text)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.path, self.budget = path, budget
        self.open: list[int] = []  # the deepest level reached inside each open node
        self.sizes: dict[int, tuple[int, int]] = {}  # id(anchored node): (nodes, height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        depth = len(self.open) + 1
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # (an undefined one: yaml's own error)
                if id(target) not in self.sizes:
                    raise MacroError(f"{self.path}:{event.start_mark.line + 1}: alias "
                                     f"*{cut(event.anchor, 40)} is inside its own anchor",
                                     "an alias can only repeat a node that is complete")
                nodes, height = self.sizes[id(target)]
                self._reach(depth + height - 1, event.start_mark)
                self.budget.count(nodes, self.path, event.start_mark)
            return super().compose_node(parent, index)
        self._reach(depth, event.start_mark)
        self.budget.count(1, self.path, event.start_mark)
        before = self.budget.nodes
        self.open.append(depth)
        node = super().compose_node(parent, index)
        deepest = self.open.pop()
        if self.open:
            self.open[-1] = max(self.open[-1], deepest)
        if event.anchor is not None:
            self.sizes[id(node)] = (self.budget.nodes - before + 1, deepest - depth + 1)
        return node

    def _reach(self, depth: int, mark: Any) -> None:
        if depth > MAX_DEPTH:
            raise MacroError(f"{self.path}:{mark.line + 1}: nested more than {MAX_DEPTH} levels "
                             "deep (aliases included)", LIMITS_HELP)
        if self.open:
            self.open[-1] = max(self.open[-1], depth)
