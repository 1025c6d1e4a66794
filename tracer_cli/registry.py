"""A small plug-in registry: built-ins are modules of a package, found by name; others come
through an entry-point group. Used for planner backends and model profiles."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from tracer_cli.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str, group: str) -> None:
        self.kind = kind
        self._package = package
        self._group = group
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            self._items[name] = item
            return item

        return add

    def _builtin(self) -> set[str]:
        module = importlib.import_module(self._package)
        return {m.name for m in pkgutil.iter_modules(module.__path__) if not m.name.startswith("_")}

    def _import_all(self) -> None:
        """Import every built-in module: a module may register several items (ui-tars and
        ui-tars-v1), or none (a helper such as profiles/geometry.py)."""
        for module in sorted(self._builtin()):
            importlib.import_module(f"{self._package}.{module}")

    def names(self) -> list[str]:
        self._import_all()
        return sorted({ep.name for ep in entry_points(group=self._group)} | set(self._items))

    def get(self, name: str) -> T:
        if name not in self._items:
            module = name.replace("-", "_")  # "qwen3-vl" lives in module qwen3_vl
            if module in self._builtin():
                importlib.import_module(f"{self._package}.{module}")
            else:
                for ep in entry_points(group=self._group, name=name):
                    ep.load()
        if name not in self._items:
            self._import_all()
        if name not in self._items:
            raise ConfigError(f"unknown {self.kind} {name!r}", f"choose one of: {', '.join(self.names())}")
        return self._items[name]
