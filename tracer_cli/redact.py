"""Secrets never leave tracer: the values of a macro's secrets, and the one rule that takes them
out of any text before it is shown, written or sent.

A macro's secrets are registered here when they are resolved from the environment (macro/load.py);
from then on, for the life of the process, ``redact(text)`` replaces each of them by its name in
braces (``{token}``, as the run record writes a type step that types it), and ``redact_data``
does the same to every string of JSON-like data. They are applied where text leaves tracer: the
console (errors, the panel, log lines), the event stream, the run record (run.json and
steps.jsonl, as they are serialised; the report is made from it), the MCP server's results, and
the OCR text a failure message quotes.

The rule. Text read from the screen is what OCR made of it, so a secret is looked for the way a
macro's text targets are (vision/ocr.py): without case or spaces, with the OCR look-alikes 0/o
and 1/l/i/| taken as equal, and with small errors: a span of the text that needs at most a fifth
of the secret's length in edits (similarity >= 0.8; none for 4 characters) is the secret, and it
is redacted with the rest of the words it touches. A secret shorter than 4 characters is only
redacted where it stands as a whole word (as a part of other words it would hide half the text).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

MIN_FUZZY = 4  # a secret this long or longer is found inside words and with OCR errors
SIMILARITY = 0.8  # 1 - edits / length a span needs to count as the secret
_FOLD = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "!": "l"})


@dataclass(frozen=True)
class _Secret:
    name: str
    value: str
    folded: str  # the value as it is compared: no spaces, case folded, look-alikes folded
    edits: int  # how many edits a span may need and still be the secret
    pieces: tuple[tuple[int, str], ...]  # (offset, part): a match keeps at least one intact

    @classmethod
    def of(cls, name: str, value: str) -> _Secret:
        folded, _ = _fold(value)
        edits = int(len(folded) * (1 - SIMILARITY) + 1e-9)
        size = len(folded) // (edits + 1)
        pieces = tuple((i * size, folded[i * size:(i + 1) * size if i < edits else len(folded)])
                       for i in range(edits + 1))
        return cls(name, value, folded, edits, pieces)


_secrets: dict[str, _Secret] = {}  # by value
_lock = threading.Lock()
_markers: re.Pattern[str] | None = None  # {name} of every secret: already redacted


def register(name: str, value: str) -> None:
    """From now on, ``value`` never leaves the process: it reads ``{name}``."""
    global _markers
    if not value.strip():
        return
    with _lock:
        if value not in _secrets:
            _secrets[value] = _Secret.of(name, value)
            names = sorted({s.name for s in _secrets.values()})
            _markers = re.compile("|".join(r"\{" + re.escape(n) + r"\}" for n in names))


def active() -> bool:
    """Whether any secret is registered (then what tracer keeps of the screen is masked)."""
    return bool(_secrets)


def clear() -> None:
    """Forget every secret (for tests: a process's secrets are otherwise kept to its end)."""
    global _markers
    with _lock:
        _secrets.clear()
        _markers = None


def redact(text: str) -> str:
    """``text`` with every secret (and what OCR read of one) replaced by ``{name}``."""
    if not _secrets or not text:
        return text
    with _lock:
        secrets, markers = list(_secrets.values()), _markers
    spans: list[tuple[int, int, str]] = []
    for secret in secrets:
        spans += [(a, b, secret.name) for a, b in _find(secret, text)]
    if not spans:
        return text
    done = [m.span() for m in markers.finditer(text)] if markers else []
    out, at = [], 0
    for a, b, name in _merge(spans):
        if any(a >= s and b <= e for s, e in done) or a < at:
            continue  # already redacted, or inside the span before
        out += [text[at:a], "{" + name + "}"]
        at = b
    return "".join(out) + text[at:]


def redact_data(data: Any) -> Any:
    """JSON-like ``data`` with ``redact`` applied to every string in it, keys included."""
    if not _secrets:
        return data
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {redact_data(k): redact_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact_data(v) for v in data]
    return data


# -- finding a secret ---------------------------------------------------------------------------

def _fold(text: str) -> tuple[str, list[int]]:
    """``text`` without whitespace, case folded, look-alikes folded; and where each kept
    character came from."""
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if not ch.isspace():
            folded = ch.casefold().translate(_FOLD)
            chars.append(folded)
            where.extend([i] * len(folded))
    return "".join(chars), where


def _find(secret: _Secret, text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` (whole words) that are the secret by the rule above."""
    if len(secret.folded) < MIN_FUZZY:
        pattern = r"(?<![^\W_])" + re.escape(secret.value) + r"(?![^\W_])"
        return [m.span() for m in re.finditer(pattern, text)]
    n, m, k = len(text), len(secret.folded), secret.edits
    if n < m - k:
        return []
    quick = "".join(text.casefold().translate(_FOLD).split())  # (as _fold, at C speed)
    if not any(piece in quick for _, piece in secret.pieces):
        return []  # a match keeps one piece intact: none is there
    folded, where = _fold(text)
    windows: list[tuple[int, int]] = []  # where a match could be: around an intact piece
    for offset, piece in secret.pieces:
        at = folded.find(piece)
        while at >= 0:
            windows.append((max(0, at - offset - k), min(len(folded), at - offset + m + k)))
            at = folded.find(piece, at + 1)
    spans = []
    for start, end in _merge_windows(windows):
        for s, e in _approx(secret.folded, folded[start:end], k):
            spans.append(_words(text, where[start + s], where[start + e - 1] + 1))
    return spans


def _approx(pattern: str, text: str, k: int) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``text`` that are ``pattern`` with at most ``k`` edits
    (Sellers' semi-global edit distance), the fewest edits first: a quote after a secret is
    not taken in as one more edit."""
    m = len(pattern)
    prev = list(range(m + 1))
    prev_start = [0] * (m + 1)
    ends: list[tuple[int, int, int]] = []  # (edits, -length, start, end)
    for j, ch in enumerate(text, start=1):
        cur, cur_start = [0], [j]
        for i in range(1, m + 1):
            best, start = prev[i - 1] + (pattern[i - 1] != ch), prev_start[i - 1]
            if prev[i] + 1 < best:
                best, start = prev[i] + 1, prev_start[i]
            if cur[i - 1] + 1 < best:
                best, start = cur[i - 1] + 1, cur_start[i - 1]
            cur.append(best)
            cur_start.append(start)
        if cur[m] <= k and j > cur_start[m]:
            ends.append((cur[m], cur_start[m] - j, cur_start[m], j))
        prev, prev_start = cur, cur_start
    taken: list[tuple[int, int]] = []
    for _, _, start, end in sorted(ends):
        if all(end <= a or start >= b for a, b in taken):
            taken.append((start, end))
    return sorted(taken)


def _words(text: str, a: int, b: int) -> tuple[int, int]:
    """The span a..b widened to the whole words it touches."""
    while a > 0 and text[a - 1].isalnum():
        a -= 1
    while b < len(text) and text[b].isalnum():
        b += 1
    return a, b


def _merge_windows(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping spans of any secrets as one (named after the first)."""
    out: list[tuple[int, int, str]] = []
    for a, b, name in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b), out[-1][2])
        else:
            out.append((a, b, name))
    return out
