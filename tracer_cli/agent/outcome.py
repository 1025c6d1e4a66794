"""How a step went, as fields. The line the model, the panel and the run record show is made from
them (``text()``), never parsed back: checks read the fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    # ok | error | skipped | failed (a macro step) | interrupted | done | fail | "" (not run)
    status: str = ""
    note: str = ""  # why it was an error or skipped; for ok, what there is to add
    settled: bool = True  # the screen stopped changing after the step
    visible: bool | None = None  # the step changed the screen visibly (None: not checked)
    repeats: int = 0  # set when the same action had no visible effect this many times in a row

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def as_forecast(self) -> bool:
        """Went as a forecast expects: executed, settled, with a visible effect."""
        return self.ok and self.settled and self.visible is not False

    def text(self) -> str:
        if self.status in ("error", "skipped", "failed"):
            return f"{self.status}: {self.note}"
        text = self.status + (f" ({self.note})" if self.note else "")
        if not self.settled:
            text += " (screen still changing)"
        if self.visible is False:
            text += " (no visible effect)"
        if self.repeats:
            text += (f"; the same action had no visible effect {self.repeats} times in a row: it "
                     "does not work, try something else")
        return text

    def fields(self) -> dict[str, Any]:
        """For the run record, beside the text."""
        out: dict[str, Any] = {"status": self.status, "settled": self.settled}
        if self.visible is not None:
            out["visible"] = self.visible
        return out

    def __str__(self) -> str:
        return self.text()
